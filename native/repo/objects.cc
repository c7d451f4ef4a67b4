// Repo object access: commits, detached metadata, raw metadata objects, content objects.
// Writers take an optional expected checksum, and libostree verifies it (the non-trusted
// writers), so corrupt input never lands in the repo.
#include <errno.h>
#include <gio/gunixinputstream.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "io/fd_io.h"
#include "repo/wrap.h"
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

// read(2) of at most n bytes that cancellation interrupts; -1 with err set on failure.
ssize_t ReadFd(int fd, char *buf, size_t n, GCancellable *c, ErrorInfo &err) {
  for (;;) {
    if (!WaitFd(fd, POLLIN, c, err)) return -1;
    ssize_t r = ::read(fd, buf, n);
    if (r >= 0) return r;
    if (errno == EINTR || errno == EAGAIN) continue;
    err.SetErrno("Reading content from fd", errno);
    return -1;
  }
}

// Writes all n bytes; cancellation interrupts a blocked pipe.
bool WriteFdAll(int fd, const char *buf, size_t n, GCancellable *c, ErrorInfo &err) {
  for (size_t off = 0; off < n;) {
    if (!WaitFd(fd, POLLOUT, c, err)) return false;
    ssize_t w = ::write(fd, buf + off, n - off);
    if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (w < 0) {
      err.SetErrno("Writing content to fd", errno);
      return false;
    }
    off += static_cast<size_t>(w);
  }
  return true;
}

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
      [=](ErrorInfo &err) {
        GErr e;
        GHashTable *reachable = nullptr;
        if (!ostree_repo_traverse_commit(repo.get(), csum.c_str(), depth, &reachable, cancellable.get(), e.out())) {
          err = e.Take();
          return;
        }
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
      [=](ErrorInfo &err) {
        GErr e;
        GVariant *v = nullptr;
        if (!ostree_repo_load_commit(repo.get(), csum.c_str(), &v, state.get(), e.out())) {
          err = e.Take();
          return;
        }
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
      [=](ErrorInfo &err) {
        GErr e;
        guchar *csum = nullptr;
        if (!ostree_repo_write_metadata(repo.get(), type, OptCStr(expected), normal.get(), &csum,
                                        cancellable.get(), e.out())) {
          err = e.Take();
          return;
        }
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
      [=](ErrorInfo &err) {
        GErr e;
        GFileInfo *fi = nullptr;
        GVariant *x = nullptr;
        if (!ostree_repo_load_file(repo.get(), csum.c_str(), nullptr, &fi, &x, cancellable.get(), e.out())) {
          err = e.Take();
          return;
        }
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
// Promise<number> (bytes copied into fd; the fd stays open and owned by the caller).
Napi::Value RepoWrap::ReadContent(const Napi::CallbackInfo &info) {
  std::string csum = ChecksumArg(info[0], "readContent: checksum");
  int fd = -1;
  if (!info[1].IsUndefined() && !info[1].IsNull()) fd = FdArg(info[1], "readContent: fd");
  CancelRef cancellable = CancelArg(info[2]);
  auto repo = Ref();
  auto data = std::make_shared<std::string>();
  auto copied = std::make_shared<guint64>(0);
  return RunRepoJob(
      info.Env(), "ostree-container:read-content", RepoJob(info.Env(), repo.get(), "readContent"),
      [=](ErrorInfo &err) {
        GErr e;
        GInputStream *in = nullptr;
        GFileInfo *fi = nullptr;
        if (!ostree_repo_load_file(repo.get(), csum.c_str(), &in, &fi, nullptr, cancellable.get(), e.out())) {
          err = e.Take();
          return;
        }
        GObj<GInputStream> input(in);
        GObj<GFileInfo> finfo(fi);
        if (g_file_info_get_file_type(fi) != G_FILE_TYPE_REGULAR) {
          err.Set("Content object " + csum + " is not a regular file", "NOT_REGULAR_FILE");
          return;
        }
        char buf[65536];
        for (;;) {
          gssize n = g_input_stream_read(input.get(), buf, sizeof buf, cancellable.get(), e.out());
          if (n < 0) {
            err = e.Take();
            return;
          }
          if (n == 0) break;
          if (fd < 0) data->append(buf, static_cast<size_t>(n));
          else if (!WriteFdAll(fd, buf, static_cast<size_t>(n), cancellable.get(), err)) return;
          *copied += static_cast<guint64>(n);
        }
      },
      [=](Napi::Env env) -> Napi::Value {
        if (fd >= 0) return Napi::Number::New(env, static_cast<double>(*copied));
        return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t *>(data->data()), data->size());
      });
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
  auto out = std::make_shared<GStr>();
  return RunRepoJob(
      info.Env(), "ostree-container:write-regfile",
      RepoJob(info.Env(), repo.get(), "writeRegfileFromFd", RepoUse::CallerTxn),
      [=](ErrorInfo &err) {
        GErr e;
        if (ostree_repo_get_mode(repo.get()) == OSTREE_REPO_MODE_ARCHIVE) {
          // libostree's streaming regfile writer refuses archive repos; its generic content
          // writer (which compresses) reads the fd through a stream instead.
          GObj<GInputStream> in(g_unix_input_stream_new(fd, FALSE));
          GObj<GFileInfo> finfo(g_file_info_new());
          g_file_info_set_file_type(finfo.get(), G_FILE_TYPE_REGULAR);
          g_file_info_set_size(finfo.get(), static_cast<goffset>(size));
          g_file_info_set_attribute_uint32(finfo.get(), "unix::uid", uid);
          g_file_info_set_attribute_uint32(finfo.get(), "unix::gid", gid);
          g_file_info_set_attribute_uint32(finfo.get(), "unix::mode", mode);
          GInputStream *content_raw = nullptr;
          guint64 length = 0;
          guchar *csum = nullptr;
          bool ok = ostree_raw_file_to_content_stream(in.get(), finfo.get(), xattrs.get(), &content_raw, &length,
                                                      cancellable.get(), e.out());
          GObj<GInputStream> content(content_raw);
          ok = ok && ostree_repo_write_content(repo.get(), OptCStr(expected), content.get(), length, &csum,
                                               cancellable.get(), e.out());
          if (!ok) {
            err = e.Take();
            return;
          }
          out->reset(ostree_checksum_from_bytes(csum));
          g_free(csum);
          return;
        }
        GObj<OstreeContentWriter> writer(ostree_repo_write_regfile(
            repo.get(), OptCStr(expected), uid, gid, mode, size, xattrs.get(), e.out()));
        if (!writer) {
          err = e.Take();
          return;
        }
        std::vector<char> buf(1 << 17);
        guint64 done = 0;
        while (done < size) {
          size_t want = static_cast<size_t>(std::min<guint64>(buf.size(), size - done));
          ssize_t n = ReadFd(fd, buf.data(), want, cancellable.get(), err);
          if (n < 0) return;
          if (n == 0) {
            err.Set("Unexpected end of input after " + std::to_string(done) + " of " + std::to_string(size) +
                        " bytes",
                    "FAILED");
            return;
          }
          if (!g_output_stream_write_all(G_OUTPUT_STREAM(writer.get()), buf.data(), static_cast<gsize>(n), nullptr,
                                         cancellable.get(), e.out())) {
            err = e.Take();
            return;
          }
          done += static_cast<guint64>(n);
        }
        char *csum = ostree_content_writer_finish(writer.get(), cancellable.get(), e.out());
        if (!csum) err = e.Take();
        out->reset(csum);
      },
      [out](Napi::Env env) -> Napi::Value { return Napi::String::New(env, out->get()); });
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
