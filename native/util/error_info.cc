#include "util/error_info.h"

#include <gio/gio.h>
#include <errno.h>
#include <string.h>

#include <new>
#include <system_error>

namespace oc {

static std::string IoErrorName(int code) {
  GEnumClass *klass = static_cast<GEnumClass *>(g_type_class_ref(G_TYPE_IO_ERROR_ENUM));
  GEnumValue *v = g_enum_get_value(klass, code);
  std::string name;
  if (v) {
    name = v->value_name;  // "G_IO_ERROR_NOT_FOUND"
    const std::string prefix = "G_IO_ERROR_";
    if (name.compare(0, prefix.size(), prefix) == 0) name = name.substr(prefix.size());
  } else {
    name = std::to_string(code);
  }
  g_type_class_unref(klass);
  return name;
}

std::string ErrnoName(int err) {
  const char *n = strerrorname_np(err);
  return n ? n : std::to_string(err);
}

// The errno behind a G_IO_ERROR or G_FILE_ERROR made from one (g_io_error_from_errno or
// g_file_error_from_errno + g_strerror, as GIO, GLib's file utilities and libglnx's
// glnx_throw_errno_prefix do), or 0.
static int ErrnoOf(const GError *err) {
  if ((err->domain != G_IO_ERROR && err->domain != G_FILE_ERROR) || !err->message) return 0;
  const std::string msg = err->message;
  for (int e = 1; e < 134; e++) {
    int code = err->domain == G_IO_ERROR ? static_cast<int>(g_io_error_from_errno(e))
                                         : static_cast<int>(g_file_error_from_errno(e));
    if (code != err->code) continue;
    const std::string text = g_strerror(e);
    if (msg.size() >= text.size() && msg.compare(msg.size() - text.size(), text.size(), text) == 0) return e;
  }
  return 0;
}

void ErrorInfo::Capture(GError *err) {
  set = true;
  if (!err) {
    // libostree returned failure without an error: a g_return_if_fail precondition (its
    // message went to stderr); the binding checks those first, so this is a bug to report.
    message = "libostree failed without an error message (a precondition check failed)";
    code = "FAILED";
    return;
  }
  message = err->message ? err->message : "";
  domain = g_quark_to_string(err->domain);
  int errnum = ErrnoOf(err);
  // libostree refuses a write that would eat into the repo's min-free-space reserve with a
  // plain G_IO_ERROR_FAILED ("min-free-space-percent '3%' would be exceeded, …"): a full disk
  // as far as the caller is concerned.
  if (!errnum && err->domain == G_IO_ERROR && err->message && strstr(err->message, "min-free-space-") &&
      strstr(err->message, "would be exceeded"))
    errnum = ENOSPC;
  code = errnum ? ErrnoName(errnum) : err->domain == G_IO_ERROR ? IoErrorName(err->code) : std::to_string(err->code);
  g_error_free(err);
}

void ErrorInfo::Set(const std::string &msg, const char *c) {
  set = true;
  message = msg;
  code = c;
  domain = "ostree-container";
}

void ErrorInfo::SetErrno(const std::string &context, int err) { Set(context + ": " + g_strerror(err), ErrnoName(err).c_str()); }

void ErrorInfo::Prefix(const std::string &context) { message = context + ": " + message; }

ErrorInfo CurrentExceptionInfo() {
  ErrorInfo info;
  try {
    throw;
  } catch (const Failure &f) {
    info = f.info;
  } catch (const std::bad_alloc &) {
    info.SetErrno("Out of memory in native code", ENOMEM);
  } catch (const std::system_error &e) {
    if (e.code().category() == std::generic_category() || e.code().category() == std::system_category())
      info.Set(std::string("Native system error (a thread could not start, or a system call failed): ") + e.what(),
               ErrnoName(e.code().value()).c_str());
    else
      info.Set(e.what());
  } catch (const std::exception &e) {
    info.Set(std::string("Native exception: ") + e.what());
  } catch (...) {
    info.Set("Native exception of unknown type");
  }
  return info;
}

}  // namespace oc
