// libFuzzer harness: the whole derived-layer import (layer/derived.h: filter thread, libostree's
// archive importer, commit) into a real bare-user repo, its own transaction each time, over
// arbitrary bytes as a layer (gzip or zstd when it starts with their magic, so a small input can
// hold many entries; else a plain tar). Every input commits or fails with a Failure; a
// failure leaves no ref and no staging directory, a success a commit that loads.
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "layer/derived.h"
#include "util/failure.h"
#include "util/gobj.h"

namespace {

OstreeRepo *Repo() {
  static OstreeRepo *repo = [] {
    char dir[] = "/tmp/derived-import-fuzz-XXXXXX";
    if (!mkdtemp(dir)) abort();
    oc::GObj<GFile> path(g_file_new_for_path((std::string(dir) + "/repo").c_str()));
    OstreeRepo *r = ostree_repo_new(path.get());
    oc::GErr e;
    if (!ostree_repo_create(r, OSTREE_REPO_MODE_BARE_USER, nullptr, e.out())) abort();
    ostree_repo_set_disable_fsync(r, TRUE);  // thousands of commits; durability is not under test
    return r;
  }();
  return repo;
}

bool HasRef(OstreeRepo *repo) {
  char *rev = nullptr;
  oc::GErr e;
  if (!ostree_repo_resolve_rev(repo, "fuzz", TRUE, &rev, e.out())) abort();
  bool have = rev != nullptr;
  g_free(rev);
  return have;
}

// A failed import removes the staging directory it locked (libostree would keep it).
size_t StagingDirs(OstreeRepo *repo) {
  int tmp = openat(ostree_repo_get_dfd(repo), "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fdopendir(tmp);
  size_t n = 0;
  while (struct dirent *ent = readdir(d)) n += strncmp(ent->d_name, "staging-", 8) == 0;
  closedir(d);
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  OstreeRepo *repo = Repo();
  oc::Fd fd(memfd_create("layer", MFD_CLOEXEC));
  for (size_t off = 0; off < size;) {
    ssize_t w = write(fd.get(), data + off, size - off);
    if (w <= 0) abort();
    off += static_cast<size_t>(w);
  }
  lseek(fd.get(), 0, SEEK_SET);
  oc::DerivedSpec spec;
  spec.compression = size >= 2 && data[0] == 0x1f && data[1] == 0x8b                          ? oc::Compression::Gzip
                     : size >= 4 && memcmp(data, "\x28\xb5\x2f\xfd", 4) == 0 ? oc::Compression::Zstd
                                                                                 : oc::Compression::None;
  spec.importer_version = "fuzz";
  spec.ref = "fuzz";
  spec.timestamp = 0;
  const size_t staging_before = StagingDirs(repo);
  try {
    oc::DerivedResult r = oc::ImportDerivedLayer(repo, fd.get(), spec, nullptr);
    GVariant *commit = nullptr;
    oc::GErr e;
    if (!ostree_repo_load_commit(repo, r.commit.c_str(), &commit, nullptr, e.out())) __builtin_trap();
    g_variant_unref(commit);
    if (!HasRef(repo)) __builtin_trap();
    if (!ostree_repo_set_ref_immediate(repo, nullptr, "fuzz", nullptr, nullptr, e.out())) abort();
  } catch (const oc::Failure &) {
    if (HasRef(repo)) __builtin_trap();
    if (StagingDirs(repo) > staging_before) __builtin_trap();
  }
  return 0;
}
