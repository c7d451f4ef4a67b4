// scanTree() for JavaScript: arguments, the walk (repo/scan.h) as a repo job, its result as
// compact arrays.
#include <cstring>
#include <memory>

#include "repo/scan.h"
#include "repo/wrap_js.h"
#include "util/args.h"
#include "util/async.h"

namespace oc {
namespace {

Napi::Array Strings(Napi::Env env, const std::vector<std::string> &v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a.Set(i, Napi::String::New(env, v[i]));
  return a;
}

Napi::Array IndexedStrings(Napi::Env env, const std::vector<std::pair<uint32_t, std::string>> &v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, Napi::Number::New(env, v[i].first));
    pair.Set(1u, Napi::String::New(env, v[i].second));
    a.Set(i, pair);
  }
  return a;
}

}  // namespace

// scanTree(rev, xattrName, cancellable?) → Promise<{ files, fileObject: Uint32Array, checksums:
// Buffer (32 bytes per object), sizes: Float64Array, symlinkTargets: [object, target][],
// elf: Buffer (1 per object whose content starts with ELF's magic), objectXattr: [object, value][],
// dirs, dirXattr: [dir, value][] }>; xattrName '' reads no xattrs.
Napi::Value RepoWrap::ScanTree(const Napi::CallbackInfo &info) {
  std::string rev = StringArg(info[0], "scanTree: rev");
  std::string xattr = StringArg(info[1], "scanTree: xattrName");
  CancelRef cancellable = CancelArg(info[2]);
  auto repo = Ref();
  auto r = std::make_shared<ScanResult>();
  return RunRepoJob(
      info.Env(), "ostree-container:scan-tree", RepoJob(info.Env(), repo.get(), "scanTree"),
      [=] { *r = oc::ScanTree(repo.get(), rev, xattr, cancellable.get()); },
      [r](Napi::Env env) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("files", Strings(env, r->files));
        auto fo = Napi::Uint32Array::New(env, r->file_object.size());
        if (!r->file_object.empty()) memcpy(fo.Data(), r->file_object.data(), r->file_object.size() * sizeof(uint32_t));
        o.Set("fileObject", fo);
        o.Set("checksums", Napi::Buffer<char>::Copy(env, r->checksums.data(), r->checksums.size()));
        auto sizes = Napi::Float64Array::New(env, r->sizes.size());
        if (!r->sizes.empty()) memcpy(sizes.Data(), r->sizes.data(), r->sizes.size() * sizeof(double));
        o.Set("sizes", sizes);
        o.Set("elf", Napi::Buffer<uint8_t>::Copy(env, r->elf.data(), r->elf.size()));
        o.Set("symlinkTargets", IndexedStrings(env, r->targets));
        o.Set("objectXattr", IndexedStrings(env, r->object_xattr));
        o.Set("dirs", Strings(env, r->dirs));
        o.Set("dirXattr", IndexedStrings(env, r->dir_xattr));
        return o;
      });
}

}  // namespace oc
