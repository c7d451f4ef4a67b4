#include "util/args.h"

#include <climits>
#include <cmath>
#include <sstream>

namespace oc {

namespace {
std::string Show(double d) {
  std::ostringstream s;
  s.precision(17);
  s << d;
  return s.str();
}
}  // namespace

double IntegerArg(const Napi::Value &v, const char *what, double min, double max) {
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (std::isnan(d) || d < min || d > max || std::trunc(d) != d)
    throw Napi::RangeError::New(v.Env(), std::string(what) + " must be an integer from " + Show(min) + " to " +
                                             Show(max) + ", got " + (std::isnan(d) ? "NaN" : Show(d)));
  return d;
}

int FdArg(const Napi::Value &v, const char *what) { return static_cast<int>(IntegerArg(v, what, 0, INT_MAX)); }

uint64_t SizeArg(const Napi::Value &v, const char *what) {
  return static_cast<uint64_t>(IntegerArg(v, what, 0, kMaxSafeInteger));
}

unsigned ThreadsArg(const Napi::Value &v, const char *what, unsigned dflt) {
  if (v.IsUndefined() || v.IsNull()) return dflt;
  return static_cast<unsigned>(IntegerArg(v, what, 1, 1024));
}

bool IsUint8Array(const Napi::Value &v) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array;
}

std::string StringArg(const Napi::Value &v, const char *what) {
  if (!v.IsString()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

std::optional<std::string> OptStringArg(const Napi::Value &v, const char *what) {
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  return StringArg(v, what);
}

}  // namespace oc
