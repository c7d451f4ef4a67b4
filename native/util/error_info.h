// The one error convention of the native code: core functions throw a Failure (util/failure.h
// raises them), which carries an ErrorInfo: a GError, errno or our own message as plain data, so
// worker threads and Node-free code (the fuzz harnesses) can carry it; util/errors.h turns it
// into a JS Error. libostree's GError out-parameters are turned into Failures where they are called.
#pragma once

#include <glib.h>

#include <exception>
#include <string>

namespace oc {

// A GError captured off the main thread (GError itself is freed immediately).
struct ErrorInfo {
  std::string message;
  std::string domain;  // e.g. "g-io-error-quark"
  // The errno name ("ENOSPC") when the error reports a system call's errno (GIO and glnx put
  // g_strerror(errno) at the end of the message), else the GIOErrorEnum name ("NOT_FOUND") when
  // the domain is G_IO_ERROR, else the number.
  std::string code;
  bool set = false;

  void Capture(GError *err);                    // takes ownership and frees err
  void Set(const std::string &msg, const char *code = "FAILED");
  void SetErrno(const std::string &context, int err);  // "context: <strerror>", code = errno name
  void Prefix(const std::string &context);      // "context: message"
  explicit operator bool() const { return set; }
};

// Thrown inside worker code; the N-API wrapper turns it into the rejected Error.
struct Failure : std::exception {
  ErrorInfo info;
  explicit Failure(ErrorInfo i) : info(std::move(i)) {}
  const char *what() const noexcept override { return info.message.c_str(); }
};

// "ENOSPC" for ENOSPC; the number for errnos without a name.
std::string ErrnoName(int err);

// The exception being handled, as an ErrorInfo (call only inside a catch block): a Failure keeps
// its own message and code, bad_alloc is ENOMEM, a system_error carries its errno name, anything
// else its what(), so a catch-all never loses what went wrong. (util/errors.h adds JS errors.)
ErrorInfo CurrentExceptionInfo();

// Owned GError* out-parameter: `GErr err; fn(..., err.out())`.
class GErr {
 public:
  GErr() = default;
  GErr(const GErr &) = delete;
  GErr &operator=(const GErr &) = delete;
  ~GErr() { if (err_) g_error_free(err_); }
  GError **out() { return &err_; }
  GError *get() const { return err_; }
  explicit operator bool() const { return err_ != nullptr; }
  ErrorInfo Take() {
    ErrorInfo info;
    info.Capture(err_);
    err_ = nullptr;
    return info;
  }

 private:
  GError *err_ = nullptr;
};

}  // namespace oc
