// The derived-import harness links Node-free code with util/errors.cc, whose JS conversions
// (and the Napi::Error branch of CurrentExceptionInfo) refer to these N-API functions. A libFuzzer
// binary has no Node to provide them, and nothing in it calls them: each one aborts, so a call
// would be a finding, never a silent success.
#include <cstdlib>

#define UNAVAILABLE(name) \
  extern "C" [[noreturn]] void name() { abort(); }

UNAVAILABLE(napi_close_escapable_handle_scope)
UNAVAILABLE(napi_close_handle_scope)
UNAVAILABLE(napi_create_error)
UNAVAILABLE(napi_create_object)
UNAVAILABLE(napi_create_reference)
UNAVAILABLE(napi_create_string_utf8)
UNAVAILABLE(napi_create_type_error)
UNAVAILABLE(napi_define_properties)
UNAVAILABLE(napi_delete_reference)
UNAVAILABLE(napi_escape_handle)
UNAVAILABLE(napi_fatal_error)
UNAVAILABLE(napi_get_and_clear_last_exception)
UNAVAILABLE(napi_get_last_error_info)
UNAVAILABLE(napi_get_named_property)
UNAVAILABLE(napi_get_reference_value)
UNAVAILABLE(napi_get_value_string_utf8)
UNAVAILABLE(napi_is_exception_pending)
UNAVAILABLE(napi_open_escapable_handle_scope)
UNAVAILABLE(napi_open_handle_scope)
UNAVAILABLE(napi_set_named_property)
