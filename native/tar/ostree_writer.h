// Commit or content objects of a repo → the ostree-ext tar format version 1 (spec §1.4): the
// repo skeleton, metadata objects, content objects with their xattrs, and the OS paths
// hardlinked to them.
#pragma once

#include <gio/gio.h>
#include <ostree.h>

#include <memory>
#include <string>

#include "tar/object_list.h"
#include "tar/writer.h"

namespace oc {

// Writes into `tar`; one writer per layer stream (it owns that stream's dedup sets, §1.6).
class OstreeTarWriter {
 public:
  OstreeTarWriter(OstreeRepo *repo, TarWriter &tar, GCancellable *c);
  ~OstreeTarWriter();
  OstreeTarWriter(const OstreeTarWriter &) = delete;
  OstreeTarWriter &operator=(const OstreeTarWriter &) = delete;

  // Full export (with_files) or the commit layer's structure-only walk (spec §1.4.1).
  void Commit(const std::string &checksum, bool with_files);
  // Content objects, each followed by its OS paths (chunk layers and the remainder, §1.4.6),
  // in checksum order.
  void Objects(const ObjectList &objects);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace oc
