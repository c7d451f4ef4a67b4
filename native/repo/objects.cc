#include "repo/objects.h"

#include <errno.h>
#include <gio/gunixinputstream.h>

#include <algorithm>
#include <vector>

#include "io/fd_io.h"
#include "util/failure.h"

namespace oc {
namespace {

// The content stream of a regular file object and its size.
GObj<GInputStream> OpenRegularContent(OstreeRepo *repo, const std::string &checksum, uint64_t *size, GCancellable *c) {
  GErr e;
  GInputStream *in = nullptr;
  GFileInfo *fi = nullptr;
  if (!ostree_repo_load_file(repo, checksum.c_str(), &in, &fi, nullptr, c, e.out())) Fail(e);
  GObj<GInputStream> input(in);
  GObj<GFileInfo> finfo(fi);
  if (g_file_info_get_file_type(fi) != G_FILE_TYPE_REGULAR)
    Fail("Content object " + checksum + " is not a regular file", "NOT_REGULAR_FILE");
  *size = static_cast<uint64_t>(g_file_info_get_size(fi));
  return input;
}

size_t ReadStream(GInputStream *in, uint8_t *p, size_t n, GCancellable *c) {
  GErr e;
  gssize r = g_input_stream_read(in, p, n, c, e.out());
  if (r < 0) Fail(e);
  return static_cast<size_t>(r);
}

}  // namespace

uint64_t CopyContentToFd(OstreeRepo *repo, const std::string &checksum, int fd, GCancellable *c) {
  uint64_t size = 0;
  GObj<GInputStream> in = OpenRegularContent(repo, checksum, &size, c);
  const size_t pipe_size = PipeSizeOf(fd);
  std::vector<uint8_t> buf(65536);
  uint64_t copied = 0;
  while (size_t n = ReadStream(in.get(), buf.data(), buf.size(), c)) {
    WriteAll(fd, buf.data(), n, pipe_size, c, "Writing content to fd");
    copied += n;
  }
  return copied;
}

GBytesPtr ReadContentBytes(OstreeRepo *repo, const std::string &checksum, GCancellable *c) {
  uint64_t size = 0;
  GObj<GInputStream> in = OpenRegularContent(repo, checksum, &size, c);
  if (size > G_MAXSIZE) Fail("Content object " + checksum + " is too large to read into memory", "ENOMEM");
  auto *data = static_cast<uint8_t *>(g_try_malloc(std::max<uint64_t>(size, 1)));
  if (!data) FailErrno("Reading content object " + checksum + " into memory", ENOMEM);
  GBytesPtr bytes(g_bytes_new_take(data, size));
  for (uint64_t got = 0; got < size;) {
    size_t n = ReadStream(in.get(), data + got, static_cast<size_t>(size - got), c);
    if (n == 0) Fail("Content object " + checksum + " ended after " + std::to_string(got) + " of " + std::to_string(size) + " bytes");
    got += n;
  }
  uint8_t extra;
  if (ReadStream(in.get(), &extra, 1, c) != 0) Fail("Content object " + checksum + " is larger than its size " + std::to_string(size));
  return bytes;
}

std::string WriteRegfileFromFd(OstreeRepo *repo, const RegfileAttrs &a, uint64_t size, int fd, GCancellable *c) {
  GErr e;
  if (ostree_repo_get_mode(repo) == OSTREE_REPO_MODE_ARCHIVE) {
    // libostree's streaming regfile writer refuses archive repos; its generic content writer
    // (which compresses) reads the fd through a stream instead.
    GObj<GInputStream> in(g_unix_input_stream_new(fd, FALSE));
    GObj<GFileInfo> finfo(g_file_info_new());
    g_file_info_set_file_type(finfo.get(), G_FILE_TYPE_REGULAR);
    g_file_info_set_size(finfo.get(), static_cast<goffset>(size));
    g_file_info_set_attribute_uint32(finfo.get(), "unix::uid", a.uid);
    g_file_info_set_attribute_uint32(finfo.get(), "unix::gid", a.gid);
    g_file_info_set_attribute_uint32(finfo.get(), "unix::mode", a.mode);
    GInputStream *content_raw = nullptr;
    guint64 length = 0;
    if (!ostree_raw_file_to_content_stream(in.get(), finfo.get(), a.xattrs, &content_raw, &length, c, e.out())) Fail(e);
    GObj<GInputStream> content(content_raw);
    guchar *raw = nullptr;
    if (!ostree_repo_write_content(repo, a.expected ? a.expected->c_str() : nullptr, content.get(), length, &raw, c,
                                   e.out()))
      Fail(e);
    GStr csum(ostree_checksum_from_bytes(raw));
    g_free(raw);
    return csum.get();
  }
  GObj<OstreeContentWriter> writer(ostree_repo_write_regfile(repo, a.expected ? a.expected->c_str() : nullptr, a.uid,
                                                             a.gid, a.mode, size, a.xattrs, e.out()));
  if (!writer) Fail(e);
  std::vector<uint8_t> buf(1 << 17);
  for (uint64_t done = 0; done < size;) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - done));
    size_t n = ReadSome(fd, buf.data(), want, c, "Reading content from fd");
    if (n == 0) Fail("Unexpected end of input after " + std::to_string(done) + " of " + std::to_string(size) + " bytes");
    if (!g_output_stream_write_all(G_OUTPUT_STREAM(writer.get()), buf.data(), n, nullptr, c, e.out())) Fail(e);
    done += n;
  }
  GStr csum(ostree_content_writer_finish(writer.get(), c, e.out()));
  if (!csum) Fail(e);
  return csum.get();
}

}  // namespace oc
