// exportLayers() for JavaScript: the layer specs and `assign` option parsed and checked, the
// export run off the JS thread, the results handed back.
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "layer/assign.h"
#include "layer/blob_js.h"
#include "layer/export.h"
#include "modules.h"
#include "repo/repo_js.h"
#include "util/args.h"
#include "util/async.h"
#include "util/cancellable.h"
#include "util/errors.h"
#include "util/failure.h"

namespace oc {

namespace {

// Property `key` of a spec object: a string, "" when absent and not `required`.
std::string Str(const Napi::Object &o, const char *key, bool required, const std::string &where) {
  std::string what = where + "." + key;
  std::optional<std::string> s = OptStringArg(o.Get(key), what.c_str());
  if (!s && required) throw Napi::TypeError::New(o.Env(), what + " is required");
  return s.value_or("");
}

Compression ParseCompressionJs(const Napi::Object &o, const std::string &where) {
  std::string name = Str(o, "compression", false, where);
  if (name.empty()) return Compression::Gzip;
  try {
    return ParseCompression(name);
  } catch (const Failure &f) {
    throw Napi::TypeError::New(o.Env(), where + ": " + f.info.message);
  }
}

LayerSpec ParseSpec(const Napi::Value &v, size_t index) {
  Napi::Env env = v.Env();
  std::string where = "layers[" + std::to_string(index) + "]";
  if (!v.IsObject()) throw Napi::TypeError::New(env, where + " must be an object");
  Napi::Object o = v.As<Napi::Object>();
  LayerSpec s;
  std::string kind = Str(o, "kind", true, where);
  if (kind == "full") s.kind = LayerSpec::Kind::Full;
  else if (kind == "commit") s.kind = LayerSpec::Kind::Commit;
  else if (kind == "chunk") s.kind = LayerSpec::Kind::Chunk;
  else throw Napi::TypeError::New(env, where + ".kind must be 'full', 'commit' or 'chunk'");
  if (s.kind != LayerSpec::Kind::Chunk) s.rev = Str(o, "rev", true, where);
  Napi::Value objs = o.Get("objects");
  if (!objs.IsUndefined() && !objs.IsNull()) {
    if (s.kind == LayerSpec::Kind::Full) throw Napi::TypeError::New(env, where + ": a full export takes no objects");
    if (!objs.IsArray()) throw Napi::TypeError::New(env, where + ".objects must be an array");
    Napi::Array a = objs.As<Napi::Array>();
    s.objects.Reserve(a.Length());
    for (uint32_t i = 0; i < a.Length(); i++) {
      std::string ow = where + ".objects[" + std::to_string(i) + "]";
      Napi::Value e = a.Get(i);
      if (!e.IsObject()) throw Napi::TypeError::New(env, ow + " must be an object");
      Napi::Object eo = e.As<Napi::Object>();
      std::string checksum = Str(eo, "checksum", true, ow);
      uint8_t raw[32];
      if (!ostree_validate_checksum_string(checksum.c_str(), nullptr))
        throw Napi::TypeError::New(env, ow + ".checksum is not a sha256 checksum: " + checksum);
      ostree_checksum_inplace_to_bytes(checksum.c_str(), raw);
      size_t index = s.objects.AddObject(raw);
      Napi::Value paths = eo.Get("paths");
      if (!paths.IsArray()) throw Napi::TypeError::New(env, ow + ".paths must be an array of strings");
      Napi::Array pa = paths.As<Napi::Array>();
      for (uint32_t j = 0; j < pa.Length(); j++) {
        Napi::Value p = pa.Get(j);
        if (!p.IsString()) throw Napi::TypeError::New(env, ow + ".paths must be an array of strings");
        s.objects.AddPath(index, p.As<Napi::String>().Utf8Value());
      }
    }
    // The writer relies on checksum order (spec §1.4.6: objects in ascending checksum order).
    s.objects.SortByChecksum();
  }
  s.compression = ParseCompressionJs(o, where);
  Napi::Value zlib = o.Get("zlib");
  if (!zlib.IsUndefined() && !zlib.IsNull()) {
    bool gzip = s.compression == Compression::Gzip || s.compression == Compression::GzipFast;
    if (!zlib.IsBoolean() || (zlib.As<Napi::Boolean>().Value() && !gzip))
      throw Napi::TypeError::New(env, where + ".zlib must be a boolean, true only for gzip");
    s.zlib = zlib.As<Napi::Boolean>().Value();
  }
  Napi::Value level = o.Get("level");
  if (!level.IsUndefined() && !level.IsNull()) {
    int max = s.compression == Compression::Zstd ? 19 : s.zlib ? 9 : 12;
    // NaN fails every comparison, so it is refused here too
    double d = level.IsNumber() ? level.As<Napi::Number>().DoubleValue() : 0;
    if (!(d >= 1 && d <= max) || std::trunc(d) != d || s.compression == Compression::None)
      throw Napi::TypeError::New(env, where + ".level must be an integer from 1 to " + std::to_string(max) +
                                          " for " + (s.compression == Compression::Zstd ? "zstd" : "gzip"));
    s.level = static_cast<int>(d);
  }
  ParseFdOrPath(o, where, &s.fd, &s.path);
  return s;
}

// options.assign: { rev, checksums: Uint8Array (32 bytes each), layers: Uint32Array, defaultLayer? }
std::shared_ptr<ObjectAssignment> ParseAssign(const Napi::Value &v, const std::vector<LayerSpec> &specs) {
  Napi::Env env = v.Env();
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  if (!v.IsObject()) throw Napi::TypeError::New(env, "assign must be an object");
  Napi::Object o = v.As<Napi::Object>();
  auto a = std::make_shared<ObjectAssignment>();
  a->rev = Str(o, "rev", true, "assign");
  Napi::Value cs = o.Get("checksums"), ls = o.Get("layers");
  if (!IsUint8Array(cs)) throw Napi::TypeError::New(env, "assign.checksums must be a Uint8Array");
  if (!ls.IsTypedArray() || ls.As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
    throw Napi::TypeError::New(env, "assign.layers must be a Uint32Array");
  Napi::Uint8Array c = cs.As<Napi::Uint8Array>();
  Napi::Uint32Array l = ls.As<Napi::Uint32Array>();
  if (c.ElementLength() != 32 * l.ElementLength())
    throw Napi::TypeError::New(env, "assign.checksums must hold 32 bytes per entry of assign.layers");
  auto check = [&](int64_t i, const std::string &what) {
    if (i < 0 || static_cast<size_t>(i) >= specs.size() || specs[static_cast<size_t>(i)].kind == LayerSpec::Kind::Full)
      throw Napi::TypeError::New(env, what + " must be the index of a commit or chunk layer");
    if (!specs[static_cast<size_t>(i)].objects.empty())
      throw Napi::TypeError::New(env, what + ": layers[" + std::to_string(i) + "] has its own objects");
  };
  a->checksums.assign(c.Data(), c.Data() + c.ElementLength());
  a->layers.assign(l.Data(), l.Data() + l.ElementLength());
  for (uint32_t i : a->layers) check(i, "assign.layers");
  Napi::Value d = o.Get("defaultLayer");
  if (!d.IsUndefined() && !d.IsNull()) {
    a->default_layer = static_cast<int64_t>(IntegerArg(d, "assign.defaultLayer", 0, kMaxSafeInteger));
    check(a->default_layer, "assign.defaultLayer");
  }
  return a;
}

// Forwards a caller's cancellation to the internal one that also stops sibling layers.
struct LinkedCancellable {
  GObj<GCancellable> inner{g_cancellable_new()};
  GObj<GCancellable> outer;
  gulong handler = 0;
  explicit LinkedCancellable(GObj<GCancellable> o) : outer(std::move(o)) {
    if (outer)
      handler = g_cancellable_connect(outer.get(), G_CALLBACK(+[](GCancellable *, gpointer inner) {
                                        g_cancellable_cancel(G_CANCELLABLE(inner));
                                      }),
                                      inner.get(), nullptr);
  }
  ~LinkedCancellable() {
    if (outer && handler) g_cancellable_disconnect(outer.get(), handler);
  }
};

// exportLayers(repo, layers, options?, cancellable?) → Promise<LayerResult[]>
Napi::Value ExportLayersJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto repo = std::make_shared<GObj<OstreeRepo>>(RepoFromJs(info[0]));
  if (!info[1].IsArray()) throw Napi::TypeError::New(env, "exportLayers: layers must be an array");
  Napi::Array arr = info[1].As<Napi::Array>();
  auto specs = std::make_shared<std::vector<LayerSpec>>();
  for (uint32_t i = 0; i < arr.Length(); i++) specs->push_back(ParseSpec(arr.Get(i), i));
  unsigned parallel = 0, threads = 0;  // 0: as the budget allows (ExportLayers)
  if (info[2].IsObject()) {
    Napi::Object opts = info[2].As<Napi::Object>();
    threads = ThreadsArg(opts.Get("threads"), "exportLayers: threads", threads);
    parallel = ThreadsArg(opts.Get("parallel"), "exportLayers: parallel", parallel);
  }
  std::shared_ptr<ObjectAssignment> assign;
  if (info[2].IsObject()) assign = ParseAssign(info[2].As<Napi::Object>().Get("assign"), *specs);
  auto cancel = std::make_shared<LinkedCancellable>(Cancellable::From(info[3]));
  auto results = std::make_shared<std::vector<LayerResult>>(specs->size());
  RepoJob job(env, repo->get(), "exportLayers");
  return RunRepoJob(
      env, "ostree-container:export-layers", std::move(job),
      [repo, specs, assign, threads, parallel, cancel, results] {
        ExportLayers(repo->get(), *specs, assign.get(), threads, parallel, cancel->inner.get(), *results);
      },
      [results](Napi::Env env) -> Napi::Value {
        Napi::Array a = Napi::Array::New(env, results->size());
        for (size_t i = 0; i < results->size(); i++) a.Set(i, LayerResultToJs(env, (*results)[i]));
        return a;
      },
      nullptr, JobKind::Job);
}

}  // namespace

void InitLayerExport(Napi::Env env, Napi::Object exports) {
  exports.Set("exportLayers", Napi::Function::New(env, ExportLayersJs, "exportLayers"));
}

}  // namespace oc
