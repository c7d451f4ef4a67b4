// Arguments from JavaScript. Every number is checked (type, NaN, integer, range) before it is
// converted, so no JS value reaches a C cast that is undefined or a size nobody meant.
#pragma once

#include <napi.h>

#include <cstdint>
#include <optional>
#include <string>

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

// A Uint8Array (a Buffer is one), not another TypedArray or a DataView.
bool IsUint8Array(const Napi::Value &v);

// A string; TypeError "<what> must be a string" otherwise.
std::string StringArg(const Napi::Value &v, const char *what);
// undefined/null → nullopt, else StringArg.
std::optional<std::string> OptStringArg(const Napi::Value &v, const char *what);

}  // namespace oc
