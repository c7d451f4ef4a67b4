// Superseded by util/failure.h, util/sha256.h and tar/format.h; kept only because repo_tree.cc
// (being changed on another branch) still includes it. Remove with that include.
#pragma once

#include "util/failure.h"
