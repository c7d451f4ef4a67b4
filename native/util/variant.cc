// Placeholder: filled in with the Repo binding.
#include "util/variant.h"
