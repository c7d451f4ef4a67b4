#include "layer/rewrite.h"

#include <utility>
#include <vector>

#include "tar/objpath.h"
#include "tar/writer.h"
#include "util/failure.h"

namespace oc {
namespace {

// Entry copy: PAX records first (minus those re-derived), header bytes kept, data streamed.
void CopyEntry(TarReader &r, TarWriter &w, TarEntry &e) {
  std::vector<std::pair<std::string, std::string>> pax;
  for (auto &rec : e.pax)
    if (rec.first != "path" && rec.first != "linkpath" && rec.first != "size") pax.push_back(rec);
  if (!pax.empty()) w.Pax(pax);
  TarEntryHeader h;
  h.path = e.path;
  h.link = e.link;
  h.size = e.size;
  w.CopyHeader(e.raw, h);
  uint8_t buf[65536];
  for (;;) {
    size_t n = r.Read(buf, sizeof buf);
    if (n == 0) break;
    w.Data(buf, n);
  }
  w.Pad(e.size);
}

}  // namespace

LayerResult RewriteDetachedMetadata(const RewriteSpec &spec, GCancellable *c) {
  InputFile input(spec.in_fd, spec.in_path);
  OutputFile output(spec.out_fd, spec.out_path);
  LayerInput in(input.fd(), spec.in_comp, c);
  TarReader &reader = in.tar();
  LayerWriter out(output.fd(), spec.out_comp, spec.threads, 0, c);
  TarWriter w(out.tar());
  LayerResult r;
  TarEntry e;
  for (;;) {
    if (!reader.Next(e)) Fail("Missing commit object");
    CopyEntry(reader, w, e);
    const std::string suffix = ".commit";
    if (e.type == '0' && e.path.size() > suffix.size() &&
        e.path.compare(e.path.size() - suffix.size(), suffix.size(), suffix) == 0) {
      r.commit = ParseObjectPath(e.path).checksum;
      break;
    }
  }
  if (spec.detached) w.File(ObjectPath(r.commit, "commitmeta"), 0644, spec.detached->data(), spec.detached->size());
  if (!reader.Next(e)) Fail("Expected metadata object after commit");
  if (ParseObjectPath(e.path).kind != ObjKind::CommitMeta) CopyEntry(reader, w, e);
  while (reader.Next(e)) CopyEntry(reader, w, e);
  reader.Drain();
  w.Finish();
  static_cast<BlobDigests &>(r) = out.Finish();
  r.media_type = MediaTypeOf(spec.out_comp);
  output.Keep(c);
  return r;
}

}  // namespace oc
