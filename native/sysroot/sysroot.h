// The Sysroot core: an OstreeSysroot with the lock its handle's calls take turns on, the
// plain-data snapshot of a deployment, origin keyfile checks. Node-free; the JS classes are
// sysroot_js.cc.
#pragma once

#include <ostree.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "util/gobj.h"

namespace oc {

struct KeyFileUnref {
  void operator()(GKeyFile *k) const { if (k) g_key_file_unref(k); }
};
using KeyFile = std::unique_ptr<GKeyFile, KeyFileUnref>;
using KeyFileRef = std::shared_ptr<GKeyFile>;

// OstreeSysroot keeps unsynchronised state (loaded deployment list, lock fd), so each handle's
// calls take turns on `mu`; JS may start them concurrently.
struct SysrootState {
  GObj<OstreeSysroot> sysroot;
  std::mutex mu;
  bool loaded = false;  // libostree only g_return_if_fail()s on an unloaded sysroot
};
using StateRef = std::shared_ptr<SysrootState>;
using DeploymentRef = std::shared_ptr<OstreeDeployment>;

DeploymentRef ShareDeployment(OstreeDeployment *d);  // takes a new reference

using KeyValues = std::vector<std::pair<std::string, std::string>>;
using Groups = std::vector<std::pair<std::string, KeyValues>>;

// What JS sees of a deployment, copied on the worker thread while the sysroot is locked.
struct DeploymentInfo {
  DeploymentRef handle;
  OstreeSysroot *owner = nullptr;  // identity only: which handle's deployment list it came from
  int index = 0, deployserial = 0, bootserial = 0;
  std::string osname, csum, bootcsum, dirpath, unlocked;
  bool staged = false, pinned = false;
  std::optional<std::string> origin, kernelArgs;
  Groups originGroups;
};
using DeploymentList = std::vector<DeploymentInfo>;

Groups KeyFileGroups(GKeyFile *kf);
DeploymentInfo Snapshot(OstreeSysroot *sysroot, OstreeDeployment *d);

// GKeyFile's own rules (it only g_return_if_fail()s on a bad name): non-empty, no brackets or
// control characters; keys also no '=' and no space at either end.
bool KeyfileName(const std::string &s, bool key);

// A NULL-terminated char** view over strings owned elsewhere.
struct Strv {
  std::vector<std::string> owned;
  std::vector<char *> ptrs;
  explicit Strv(std::vector<std::string> s) : owned(std::move(s)) {
    for (auto &x : owned) ptrs.push_back(x.data());
    ptrs.push_back(nullptr);
  }
  char **get() { return ptrs.data(); }
};

[[noreturn]] void FailNotLoaded();

// Runs `fn(sysroot)` with the handle's lock held; `need_loaded` refuses an unloaded sysroot
// (a NOT_INITIALIZED Failure).
template <typename F>
void WithSysroot(SysrootState &st, bool need_loaded, F &&fn) {
  std::lock_guard<std::mutex> g(st.mu);
  if (need_loaded && !st.loaded) FailNotLoaded();
  fn(st.sysroot.get());
}

}  // namespace oc
