#include "util/error_info.h"

#include <gio/gio.h>

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

void ErrorInfo::Capture(GError *err) {
  set = true;
  if (!err) {
    message = "unknown error";
    code = "FAILED";
    return;
  }
  message = err->message ? err->message : "";
  domain = g_quark_to_string(err->domain);
  code = err->domain == G_IO_ERROR ? IoErrorName(err->code) : std::to_string(err->code);
  g_error_free(err);
}

void ErrorInfo::Set(const std::string &msg, const char *c) {
  set = true;
  message = msg;
  code = c;
  domain = "ostree-container";
}

void ErrorInfo::Prefix(const std::string &context) { message = context + ": " + message; }

}  // namespace oc
