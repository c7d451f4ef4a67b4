// Numeric arguments from JavaScript: every number is checked (type, NaN, integer, range) before
// it is converted, so no JS value reaches a C cast that is undefined or a size nobody meant.
#pragma once

#include <napi.h>

#include <cstdint>

namespace oc {

// Largest integer a JS number holds exactly (Number.MAX_SAFE_INTEGER).
constexpr double kMaxSafeInteger = 9007199254740991.0;

// An integer number in [min, max]; TypeError for a non-number, RangeError naming `what` and the
// range for NaN, fractions and values outside it.
double IntegerArg(const Napi::Value &v, const char *what, double min, double max);

// A file descriptor (0 … INT_MAX).
int FdArg(const Napi::Value &v, const char *what);

// A byte count or size (0 … 2^53-1).
uint64_t SizeArg(const Napi::Value &v, const char *what);

// An optional thread count: undefined/null → `dflt`, otherwise 1 … 1024.
unsigned ThreadsArg(const Napi::Value &v, const char *what, unsigned dflt);

}  // namespace oc
