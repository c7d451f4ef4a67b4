// Repo binding, object access: commits, detached metadata, raw metadata objects, content
// objects. Writers take an optional expected checksum, and libostree verifies it (the
// non-trusted writers), so corrupt input never lands in the repo.
#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <vector>

#include "repo/objects.h"
#include "repo/wrap_js.h"
#include "util/args.h"
#include "util/async.h"
#include "util/errors.h"
#include "util/variant.h"

namespace oc {
namespace {

// Permission bits (S_IFREG added) or a full regular-file mode: libostree asserts S_ISREG for
// the writers, and `| S_IFREG` on another type's bits would make yet another type.
uint32_t RegfileModeArg(const Napi::Value &v, const char *what) {
  uint32_t mode = Uint32Arg(v, what);
  if ((mode & ~(S_IFMT | 07777)) != 0 || ((mode & S_IFMT) != 0 && (mode & S_IFMT) != S_IFREG)) {
    char octal[16];
    snprintf(octal, sizeof octal, "0%o", mode);
    throw Napi::RangeError::New(v.Env(), std::string(what) + " must be permission bits or a regular file mode, got " + octal);
  }
  return mode | S_IFREG;
}

// Plain a(ayay) xattrs from JS, or null.
VarRef OptXattrs(const Napi::Value &v) { return OptVariantArg(v, G_VARIANT_TYPE("a(ayay)"), "xattrs"); }

Napi::Value BytesOf(Napi::Env env, GVariant *v) {
  return Napi::Buffer<uint8_t>::Copy(env, static_cast<const uint8_t *>(g_variant_get_data(v)), g_variant_get_size(v));
}

Napi::Value ChecksumOf(Napi::Env env, GVariant *bytes) {
  if (g_variant_n_children(bytes) != OSTREE_SHA256_DIGEST_LEN) return env.Null();
  GStr s(ostree_checksum_from_bytes_v(bytes));
  return Napi::String::New(env, s.get());
}

}  // namespace

// hasObject(type, checksum, cancellable?) → Promise<boolean>
Napi::Value RepoWrap::HasObject(const Napi::CallbackInfo &info) {
  OstreeObjectType type = ObjectTypeArg(info[0], "hasObject: type");
  std::string csum = ChecksumArg(info[1], "hasObject: checksum");
  CancelRef cancellable = CancelArg(info[2]);
  auto repo = Ref();
  auto out = std::make_shared<gboolean>(FALSE);
  return RunOstreeCall(
      info.Env(), "ostree-container:has-object", RepoJob(info.Env(), repo.get(), "hasObject"),
      [=](GError **error) {
        return ostree_repo_has_object(repo.get(), type, csum.c_str(), out.get(), cancellable.get(), error);
      },
      [out](Napi::Env env) -> Napi::Value { return Napi::Boolean::New(env, *out); });
}

// traverseCommit(checksum, maxDepth, cancellable?) → Promise<[type, checksum][]>: every object
// reachable from the commit (maxDepth parents too; 0 = this commit only), sorted.
Napi::Value RepoWrap::TraverseCommit(const Napi::CallbackInfo &info) {
  std::string csum = ChecksumArg(info[0], "traverseCommit: checksum");
  int depth = DepthArg(info[1], "traverseCommit: maxDepth", 0);
  CancelRef cancellable = CancelArg(info[2]);
  auto repo = Ref();
  auto out = std::make_shared<std::vector<std::pair<std::string, std::string>>>();
  return RunRepoJob(
      info.Env(), "ostree-container:traverse-commit", RepoJob(info.Env(), repo.get(), "traverseCommit"),
      [=] {
        GErr e;
        GHashTable *reachable = nullptr;
        if (!ostree_repo_traverse_commit(repo.get(), csum.c_str(), depth, &reachable, cancellable.get(), e.out()))
          Fail(e);
        GHash owned(reachable);
        GHashTableIter it;
        gpointer key;
        g_hash_table_iter_init(&it, reachable);
        while (g_hash_table_iter_next(&it, &key, nullptr)) {
          const char *name;
          OstreeObjectType type;
          ostree_object_name_deserialize(static_cast<GVariant *>(key), &name, &type);
          out->emplace_back(ostree_object_type_to_string(type), name);
        }
        std::sort(out->begin(), out->end(), [](const auto &a, const auto &b) {
          return a.second != b.second ? a.second < b.second : a.first < b.first;
        });
      },
      [out](Napi::Env env) { return StringPairsToJs(env, *out); });
}

// loadCommit(checksum) → Promise<{ checksum, subject, body, timestamp, parent, rootContents,
//   rootMetadata, metadata: Map<string, TypedVariant>, contentChecksum, partial }>
Napi::Value RepoWrap::LoadCommit(const Napi::CallbackInfo &info) {
  std::string csum = ChecksumArg(info[0], "loadCommit: checksum");
  auto repo = Ref();
  auto commit = std::make_shared<GVar>();
  auto state = std::make_shared<OstreeRepoCommitState>(OSTREE_REPO_COMMIT_STATE_NORMAL);
  auto content = std::make_shared<GStr>();
  return RunRepoJob(
      info.Env(), "ostree-container:load-commit", RepoJob(info.Env(), repo.get(), "loadCommit"),
      [=] {
        GErr e;
        GVariant *v = nullptr;
        if (!ostree_repo_load_commit(repo.get(), csum.c_str(), &v, state.get(), e.out())) Fail(e);
        commit->reset(v);
        content->reset(ostree_commit_get_content_checksum(v));
      },
      [=](Napi::Env env) -> Napi::Value {
        GVariant *c = commit->get();
        GVar metadata(g_variant_get_child_value(c, 0));
        GVar subject(g_variant_get_child_value(c, 3));
        GVar body(g_variant_get_child_value(c, 4));
        GVar tree(g_variant_get_child_value(c, 6));
        GVar meta(g_variant_get_child_value(c, 7));
        GStr parent(ostree_commit_get_parent(c));
        Napi::Object o = Napi::Object::New(env);
        o.Set("checksum", csum);
        o.Set("subject", VariantToPlain(env, subject.get()));
        o.Set("body", VariantToPlain(env, body.get()));
        o.Set("timestamp", Napi::Number::New(env, static_cast<double>(ostree_commit_get_timestamp(c))));
        o.Set("parent", parent ? Napi::String::New(env, parent.get()) : env.Null());
        o.Set("rootContents", ChecksumOf(env, tree.get()));
        o.Set("rootMetadata", ChecksumOf(env, meta.get()));
        o.Set("metadata", VariantToPlain(env, metadata.get()));
        o.Set("contentChecksum", *content ? Napi::String::New(env, content->get()) : env.Null());
        o.Set("partial", Napi::Boolean::New(env, (*state & OSTREE_REPO_COMMIT_STATE_PARTIAL) != 0));
        return o;
      });
}

// readCommitDetachedMetadata(checksum, cancellable?) → Promise<Map<string, TypedVariant> | null>
Napi::Value RepoWrap::ReadDetachedMetadata(const Napi::CallbackInfo &info) {
  std::string csum = ChecksumArg(info[0], "readCommitDetachedMetadata: checksum");
  CancelRef cancellable = CancelArg(info[1]);
  auto repo = Ref();
  auto out = std::make_shared<GVar>();
  return RunOstreeCall(
      info.Env(), "ostree-container:read-detached", RepoJob(info.Env(), repo.get(), "readCommitDetachedMetadata"),
      [=](GError **error) {
        GVariant *v = nullptr;
        bool ok = ostree_repo_read_commit_detached_metadata(repo.get(), csum.c_str(), &v, cancellable.get(), error);
        out->reset(v);
        return ok;
      },
      [out](Napi::Env env) -> Napi::Value { return *out ? VariantToPlain(env, out->get()) : env.Null(); });
}

// writeCommitDetachedMetadata(checksum, metadata: Map | object | null, cancellable?) → Promise<void>;
// null empties it (libostree stores an empty dictionary).
Napi::Value RepoWrap::WriteDetachedMetadata(const Napi::CallbackInfo &info) {
  std::string csum = ChecksumArg(info[0], "writeCommitDetachedMetadata: checksum");
  VarRef meta = OptVariantArg(info[1], G_VARIANT_TYPE_VARDICT, "metadata");
  CancelRef cancellable = CancelArg(info[2]);
  auto repo = Ref();
  RepoJob job(info.Env(), repo.get(), "writeCommitDetachedMetadata");
  return RunOstreeCall(info.Env(), "ostree-container:write-detached", std::move(job), [=](GError **error) {
    return ostree_repo_write_commit_detached_metadata(repo.get(), csum.c_str(), meta.get(), cancellable.get(), error);
  });
}

namespace {

// Shared by loadVariant (typed) and loadMetadataBytes (raw serialized bytes).
Napi::Value LoadMetadataObject(const Napi::CallbackInfo &info, RepoRef repo, bool typed) {
  const char *what = typed ? "loadVariant: type" : "loadMetadataBytes: type";
  OstreeObjectType type = ObjectTypeArg(info[0], what);
  if (!OSTREE_OBJECT_TYPE_IS_META(type))
    throw Napi::TypeError::New(info.Env(), std::string(what) + ": not a metadata object type");
  std::string csum = ChecksumArg(info[1], typed ? "loadVariant: checksum" : "loadMetadataBytes: checksum");
  auto out = std::make_shared<GVar>();
  return RunOstreeCall(
      info.Env(), "ostree-container:load-variant",
      RepoJob(info.Env(), repo.get(), typed ? "loadVariant" : "loadMetadataBytes"),
      [=](GError **error) {
        GVariant *v = nullptr;
        bool ok = ostree_repo_load_variant(repo.get(), type, csum.c_str(), &v, error);
        out->reset(v);
        return ok;
      },
      [out, typed](Napi::Env env) -> Napi::Value {
        return typed ? Napi::Value(VariantToTyped(env, out->get())) : BytesOf(env, out->get());
      });
}

}  // namespace

// loadVariant(type, checksum) → Promise<TypedVariant>
Napi::Value RepoWrap::LoadVariant(const Napi::CallbackInfo &info) { return LoadMetadataObject(info, Ref(), true); }

// loadMetadataBytes(type, checksum) → Promise<Buffer>
Napi::Value RepoWrap::LoadMetadataBytes(const Napi::CallbackInfo &info) {
  return LoadMetadataObject(info, Ref(), false);
}

// writeMetadata(type, expectedChecksum | null, bytes, cancellable?) → Promise<string>. The
// bytes are read as the type's GVariant (untrusted) and normalised; libostree verifies the
// expected checksum.
Napi::Value RepoWrap::WriteMetadata(const Napi::CallbackInfo &info) {
  OstreeObjectType type = ObjectTypeArg(info[0], "writeMetadata: type");
  if (!OSTREE_OBJECT_TYPE_IS_META(type) || type == OSTREE_OBJECT_TYPE_COMMIT_META)
    throw Napi::TypeError::New(info.Env(), "writeMetadata: type must be commit, dirtree or dirmeta");
  auto expected = OptChecksumArg(info[1], "writeMetadata: expectedChecksum");
  GBytesPtr bytes = BytesArg(info[2], "writeMetadata: bytes");
  GVar raw = TakeVariant(g_variant_new_from_bytes(ostree_metadata_variant_type(type), bytes.get(), FALSE));
  VarRef normal = ShareVariant(g_variant_get_normal_form(raw.get()));
  CancelRef cancellable = CancelArg(info[3]);
  auto repo = Ref();
  auto out = std::make_shared<GStr>();
  return RunRepoJob(
      info.Env(), "ostree-container:write-metadata",
      RepoJob(info.Env(), repo.get(), "writeMetadata", RepoUse::CallerTxn),
      [=] {
        GErr e;
        guchar *csum = nullptr;
        if (!ostree_repo_write_metadata(repo.get(), type, OptCStr(expected), normal.get(), &csum,
                                        cancellable.get(), e.out()))
          Fail(e);
        out->reset(ostree_checksum_from_bytes(csum));
        g_free(csum);
      },
      [out](Napi::Env env) -> Napi::Value { return Napi::String::New(env, out->get()); });
}

// queryContent(checksum, cancellable?) → Promise<{ size, uid, gid, mode, symlinkTarget,
//   xattrs: [name: Buffer, value: Buffer][] }>
Napi::Value RepoWrap::QueryContent(const Napi::CallbackInfo &info) {
  std::string csum = ChecksumArg(info[0], "queryContent: checksum");
  CancelRef cancellable = CancelArg(info[1]);
  auto repo = Ref();
  auto finfo = std::make_shared<GObj<GFileInfo>>();
  auto xattrs = std::make_shared<GVar>();
  return RunRepoJob(
      info.Env(), "ostree-container:query-content", RepoJob(info.Env(), repo.get(), "queryContent"),
      [=] {
        GErr e;
        GFileInfo *fi = nullptr;
        GVariant *x = nullptr;
        if (!ostree_repo_load_file(repo.get(), csum.c_str(), nullptr, &fi, &x, cancellable.get(), e.out())) Fail(e);
        finfo->reset(fi);
        xattrs->reset(x);
      },
      [=](Napi::Env env) -> Napi::Value {
        GFileInfo *fi = finfo->get();
        Napi::Object o = Napi::Object::New(env);
        o.Set("size", Napi::Number::New(env, static_cast<double>(g_file_info_get_size(fi))));
        o.Set("uid", g_file_info_get_attribute_uint32(fi, "unix::uid"));
        o.Set("gid", g_file_info_get_attribute_uint32(fi, "unix::gid"));
        o.Set("mode", g_file_info_get_attribute_uint32(fi, "unix::mode"));
        const char *target = g_file_info_get_file_type(fi) == G_FILE_TYPE_SYMBOLIC_LINK
                                 ? g_file_info_get_symlink_target(fi)
                                 : nullptr;
        o.Set("symlinkTarget", target ? Napi::Value(Napi::String::New(env, target)) : env.Null());
        o.Set("xattrs", *xattrs ? VariantToPlain(env, xattrs->get()) : Napi::Array::New(env));
        return o;
      });
}

// readContent(checksum, fd?, cancellable?) → Promise<Buffer> (whole file), or, with an fd,
// Promise<number> (bytes copied into fd; the fd stays open and owned by the caller). The Buffer
// is the block the job read into, handed over without a copy.
Napi::Value RepoWrap::ReadContent(const Napi::CallbackInfo &info) {
  std::string csum = ChecksumArg(info[0], "readContent: checksum");
  int fd = -1;
  if (!info[1].IsUndefined() && !info[1].IsNull()) fd = FdArg(info[1], "readContent: fd");
  CancelRef cancellable = CancelArg(info[2]);
  auto repo = Ref();
  auto data = std::make_shared<GBytesPtr>();
  auto copied = std::make_shared<guint64>(0);
  return RunRepoJob(
      info.Env(), "ostree-container:read-content", RepoJob(info.Env(), repo.get(), "readContent"),
      [=] {
        if (fd >= 0) *copied = CopyContentToFd(repo.get(), csum, fd, cancellable.get());
        else *data = ReadContentBytes(repo.get(), csum, cancellable.get());
      },
      [=](Napi::Env env) -> Napi::Value {
        if (fd >= 0) return Napi::Number::New(env, static_cast<double>(*copied));
        gsize len = 0;
        auto *p = static_cast<uint8_t *>(const_cast<void *>(g_bytes_get_data(data->get(), &len)));
        if (!p || len == 0) return Napi::Buffer<uint8_t>::New(env, 0);
        GBytes *owner = data->release();
        return Napi::Buffer<uint8_t>::New(env, p, len, [](Napi::Env, uint8_t *, GBytes *b) { g_bytes_unref(b); }, owner);
      },
      nullptr, fd >= 0 ? JobKind::Job : JobKind::Call);  // a pipe may wait for its reader
}

// writeRegfileInline(expectedChecksum | null, uid, gid, mode, xattrs | null, bytes, cancellable?)
//   → Promise<string>
Napi::Value RepoWrap::WriteRegfileInline(const Napi::CallbackInfo &info) {
  auto expected = OptChecksumArg(info[0], "writeRegfileInline: expectedChecksum");
  uint32_t uid = Uint32Arg(info[1], "writeRegfileInline: uid");
  uint32_t gid = Uint32Arg(info[2], "writeRegfileInline: gid");
  uint32_t mode = RegfileModeArg(info[3], "writeRegfileInline: mode");
  VarRef xattrs = OptXattrs(info[4]);
  BytesRef bytes = ShareBytes(BytesArg(info[5], "writeRegfileInline: bytes"));
  CancelRef cancellable = CancelArg(info[6]);
  auto repo = Ref();
  auto out = std::make_shared<GStr>();
  return RunOstreeCall(
      info.Env(), "ostree-container:write-regfile-inline",
      RepoJob(info.Env(), repo.get(), "writeRegfileInline", RepoUse::CallerTxn),
      [=](GError **error) {
        gsize len = 0;
        const guint8 *data = static_cast<const guint8 *>(g_bytes_get_data(bytes.get(), &len));
        out->reset(ostree_repo_write_regfile_inline(repo.get(), OptCStr(expected), uid, gid, mode, xattrs.get(), data,
                                                    len, cancellable.get(), error));
        return *out != nullptr;
      },
      [out](Napi::Env env) { return Napi::String::New(env, out->get()); });
}

// writeRegfileFromFd(expectedChecksum | null, uid, gid, mode, xattrs | null, size, fd, cancellable?)
//   → Promise<string>. Reads exactly `size` bytes from fd on the worker; libostree streams them
// into the object and verifies the checksum. Cancellation interrupts a stalled pipe. The fd stays
// open and owned by the caller.
Napi::Value RepoWrap::WriteRegfileFromFd(const Napi::CallbackInfo &info) {
  auto expected = OptChecksumArg(info[0], "writeRegfileFromFd: expectedChecksum");
  uint32_t uid = Uint32Arg(info[1], "writeRegfileFromFd: uid");
  uint32_t gid = Uint32Arg(info[2], "writeRegfileFromFd: gid");
  uint32_t mode = RegfileModeArg(info[3], "writeRegfileFromFd: mode");
  VarRef xattrs = OptXattrs(info[4]);
  guint64 size = SizeArg(info[5], "writeRegfileFromFd: size");
  int fd = FdArg(info[6], "writeRegfileFromFd: fd");
  CancelRef cancellable = CancelArg(info[7]);
  auto repo = Ref();
  auto out = std::make_shared<std::string>();
  return RunRepoJob(
      info.Env(), "ostree-container:write-regfile",
      RepoJob(info.Env(), repo.get(), "writeRegfileFromFd", RepoUse::CallerTxn),
      [=] {
        RegfileAttrs attrs{expected, uid, gid, mode, xattrs.get()};
        *out = oc::WriteRegfileFromFd(repo.get(), attrs, size, fd, cancellable.get());
      },
      [out](Napi::Env env) -> Napi::Value { return Napi::String::New(env, *out); }, nullptr,
      JobKind::Job);  // a pipe may wait for its writer
}

// writeSymlink(expectedChecksum | null, uid, gid, xattrs | null, target, cancellable?) → Promise<string>
Napi::Value RepoWrap::WriteSymlink(const Napi::CallbackInfo &info) {
  auto expected = OptChecksumArg(info[0], "writeSymlink: expectedChecksum");
  uint32_t uid = Uint32Arg(info[1], "writeSymlink: uid");
  uint32_t gid = Uint32Arg(info[2], "writeSymlink: gid");
  VarRef xattrs = OptXattrs(info[3]);
  std::string target = StringArg(info[4], "writeSymlink: target");
  CancelRef cancellable = CancelArg(info[5]);
  auto repo = Ref();
  auto out = std::make_shared<GStr>();
  return RunOstreeCall(
      info.Env(), "ostree-container:write-symlink", RepoJob(info.Env(), repo.get(), "writeSymlink", RepoUse::CallerTxn),
      [=](GError **error) {
        out->reset(ostree_repo_write_symlink(repo.get(), OptCStr(expected), uid, gid, xattrs.get(), target.c_str(),
                                             cancellable.get(), error));
        return *out != nullptr;
      },
      [out](Napi::Env env) { return Napi::String::New(env, out->get()); });
}

}  // namespace oc
