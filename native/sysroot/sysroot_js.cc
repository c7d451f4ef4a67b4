// Sysroot binding: a JS handle on an OstreeSysroot (load, lock, deployments, deploy/stage, write
// deployments, origin files, cleanup). Every call that touches the disk runs on a scheduler
// thread through PromiseWorker, with the handle's lock held (sysroot/sysroot.h).
#include <napi.h>
#include <ostree.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include <functional>

#include "modules.h"
#include "repo/wrap_js.h"
#include "sysroot/sysroot.h"
#include "util/async.h"
#include "util/classes.h"
#include "util/errors.h"
#include "util/failure.h"
#include "util/gobj.h"

namespace oc {
namespace {

// The JS class of a deployment: a wrapped OstreeDeployment (so it can be handed back as a merge
// deployment) carrying its snapshot as plain read-only properties.
class DeploymentWrap : public TaggedWrap<DeploymentWrap> {
 public:
  static constexpr const char *kClassName = "Deployment";
  static void Init(Napi::Env env, Napi::Object exports) {
    Export(env, exports);
  }
  explicit DeploymentWrap(const Napi::CallbackInfo &info) : TaggedWrap<DeploymentWrap>(info) {
    if (!info[0].IsExternal() || !info[1].IsExternal())
      throw Napi::TypeError::New(info.Env(), "deployments come from a Sysroot");
    deployment_ = ShareDeployment(info[0].As<Napi::External<OstreeDeployment>>().Data());
    owner_ = info[1].As<Napi::External<OstreeSysroot>>().Data();
  }
  DeploymentRef deployment() const { return deployment_; }
  const OstreeSysroot *owner() const { return owner_; }

 private:
  DeploymentRef deployment_;
  const OstreeSysroot *owner_ = nullptr;
};

Napi::Value GroupsToJs(Napi::Env env, const Groups &groups) {
  Napi::Object o = Napi::Object::New(env);
  for (const auto &[group, kvs] : groups) {
    Napi::Object g = Napi::Object::New(env);
    for (const auto &[k, v] : kvs) g.Set(k, v);
    o.Set(group, g);
  }
  return o;
}

Napi::Value DeploymentToJs(Napi::Env env, const DeploymentInfo &info) {
  auto &ctor = GetAddonData(env).classes.at("Deployment");
  Napi::Object o = ctor.New({Napi::External<OstreeDeployment>::New(env, info.handle.get()),
                             Napi::External<OstreeSysroot>::New(env, info.owner)});
  auto set = [&](const char *name, Napi::Value v) {
    o.DefineProperty(Napi::PropertyDescriptor::Value(name, v, napi_enumerable));
  };
  set("index", Napi::Number::New(env, info.index));
  set("osname", Napi::String::New(env, info.osname));
  set("csum", Napi::String::New(env, info.csum));
  set("deploySerial", Napi::Number::New(env, info.deployserial));
  set("bootCsum", Napi::String::New(env, info.bootcsum));
  set("bootSerial", Napi::Number::New(env, info.bootserial));
  set("dirPath", Napi::String::New(env, info.dirpath));
  set("unlocked", Napi::String::New(env, info.unlocked));
  set("staged", Napi::Boolean::New(env, info.staged));
  set("pinned", Napi::Boolean::New(env, info.pinned));
  set("origin", info.origin ? Napi::Value(Napi::String::New(env, *info.origin)) : env.Null());
  set("originGroups", info.origin ? GroupsToJs(env, info.originGroups) : env.Null());
  set("kernelArgs", info.kernelArgs ? Napi::Value(Napi::String::New(env, *info.kernelArgs)) : env.Null());
  return o;
}

Napi::Value OptDeploymentToJs(Napi::Env env, const std::optional<DeploymentInfo> &info) {
  return info ? DeploymentToJs(env, *info) : env.Null();
}

// A deployment read through the same Sysroot handle: libostree matches deployments against its
// loaded list and may assert on one from elsewhere.
DeploymentRef DeploymentArg(const Napi::Value &v, const char *what, const OstreeSysroot *owner) {
  if (!IsInstance(v, "Deployment")) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a Deployment");
  DeploymentWrap *w = DeploymentWrap::Unwrap(v.As<Napi::Object>());
  if (w->owner() != owner)
    throw Napi::TypeError::New(v.Env(), std::string(what) + " was read through another Sysroot handle");
  return w->deployment();
}

DeploymentRef OptDeploymentArg(const Napi::Value &v, const char *what, const OstreeSysroot *owner) {
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  return DeploymentArg(v, what, owner);
}

std::vector<std::string> StringArrayArg(const Napi::Value &v, const char *what) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be an array of strings");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(StringArg(a.Get(i), what));
  return out;
}

// An origin keyfile from its text or from { group: { key: value } }; null/undefined → none.
KeyFileRef OriginArg(const Napi::Value &v, const char *what) {
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  KeyFile kf(g_key_file_new());
  if (v.IsString()) {
    std::string text = v.As<Napi::String>().Utf8Value();
    GErr e;
    if (!g_key_file_load_from_data(kf.get(), text.data(), text.size(), G_KEY_FILE_KEEP_COMMENTS, e.out())) {
      ErrorInfo info = e.Take();
      info.Prefix(what);
      throw ToJsError(v.Env(), info);
    }
  } else if (v.IsObject() && !v.IsArray()) {
    Napi::Object groups = v.As<Napi::Object>();
    Napi::Array gnames = groups.GetPropertyNames();
    for (uint32_t i = 0; i < gnames.Length(); i++) {
      std::string g = gnames.Get(i).As<Napi::String>().Utf8Value();
      Napi::Value kv = groups.Get(g);
      if (!kv.IsObject() || kv.IsArray())
        throw Napi::TypeError::New(v.Env(), std::string(what) + ": group " + g + " must be an object of strings");
      Napi::Object keys = kv.As<Napi::Object>();
      Napi::Array knames = keys.GetPropertyNames();
      for (uint32_t j = 0; j < knames.Length(); j++) {
        std::string k = knames.Get(j).As<Napi::String>().Utf8Value();
        std::string val = StringArg(keys.Get(k), (std::string(what) + ": " + g + "." + k).c_str());
        if (!KeyfileName(g, false) || !KeyfileName(k, true))
          throw Napi::TypeError::New(v.Env(), std::string(what) + ": invalid group or key name '" + g + "." + k + "'");
        g_key_file_set_string(kf.get(), g.c_str(), k.c_str(), val.c_str());
      }
    }
  } else {
    throw Napi::TypeError::New(v.Env(), std::string(what) + " must be keyfile text or an object of groups");
  }
  return KeyFileRef(kf.release(), g_key_file_unref);
}

class SysrootWrap : public TaggedWrap<SysrootWrap> {
 public:
  static constexpr const char *kClassName = "Sysroot";
  static void Init(Napi::Env env, Napi::Object exports) {
    Export(
        env, exports,
        {
            InstanceAccessor("path", &SysrootWrap::Path, nullptr),
            InstanceMethod("load", &SysrootWrap::Load),
            InstanceMethod("tryLock", &SysrootWrap::TryLock),
            InstanceMethod("unlock", &SysrootWrap::Unlock),
            InstanceMethod("repo", &SysrootWrap::GetRepo),
            InstanceMethod("initOsname", &SysrootWrap::InitOsname),
            InstanceMethod("deployments", &SysrootWrap::Deployments),
            InstanceMethod("bootedDeployment", &SysrootWrap::BootedDeployment),
            InstanceMethod("stagedDeployment", &SysrootWrap::StagedDeployment),
            InstanceMethod("mergeDeployment", &SysrootWrap::MergeDeployment),
            InstanceMethod("deployTree", &SysrootWrap::DeployTree),
            InstanceMethod("stageTree", &SysrootWrap::StageTree),
            InstanceMethod("simpleWriteDeployment", &SysrootWrap::SimpleWriteDeployment),
            InstanceMethod("writeDeployments", &SysrootWrap::WriteDeployments),
            InstanceMethod("writeOrigin", &SysrootWrap::WriteOrigin),
            InstanceMethod("cleanup", &SysrootWrap::Cleanup),
        });
  }

  // new Sysroot(path?): no I/O (libostree opens nothing until load); no path = the default (/).
  explicit SysrootWrap(const Napi::CallbackInfo &info) : TaggedWrap<SysrootWrap>(info) {
    auto path = OptStringArg(info[0], "Sysroot: path");
    state_ = std::make_shared<SysrootState>();
    if (path) {
      GObj<GFile> f(g_file_new_for_path(path->c_str()));
      state_->sysroot.reset(ostree_sysroot_new(f.get()));
    } else {
      state_->sysroot.reset(ostree_sysroot_new_default());
    }
  }

 private:
  using Locked = std::function<void(OstreeSysroot *)>;

  // Queues `work` with the sysroot's mutex held; `needLoaded` refuses an unloaded sysroot.
  Napi::Value Run(Napi::Env env, const char *name, bool needLoaded, Locked work,
                  PromiseWorker::Done done = nullptr) {
    StateRef st = state_;
    return PromiseWorker::Run(
        env, name,
        [st, needLoaded, work] { WithSysroot(*st, needLoaded, work); },
        std::move(done));
  }

  Napi::Value Path(const Napi::CallbackInfo &info) {
    GStr p(g_file_get_path(ostree_sysroot_get_path(state_->sysroot.get())));
    return Napi::String::New(info.Env(), p.get());
  }

  // load(cancellable?) → Promise<void>; also reloads after changes made elsewhere.
  Napi::Value Load(const Napi::CallbackInfo &info) {
    CancelRef c = CancelArg(info[0]);
    StateRef st = state_;
    return Run(info.Env(), "ostree-container:sysroot-load", false, [c, st](OstreeSysroot *s) {
      GStr p(g_file_get_path(ostree_sysroot_get_path(s)));
      WithContext(std::string("Loading sysroot at '") + p.get() + "'", [&] {
        GErr e;
        if (!ostree_sysroot_load(s, c.get(), e.out())) Fail(e);
      });
      st->loaded = true;
    });
  }

  // tryLock() → Promise<boolean> (false: another process holds the lock)
  Napi::Value TryLock(const Napi::CallbackInfo &info) {
    auto acquired = std::make_shared<gboolean>(FALSE);
    return Run(
        info.Env(), "ostree-container:sysroot-try-lock", false,
        [acquired](OstreeSysroot *s) {
          GErr e;
          if (!ostree_sysroot_try_lock(s, acquired.get(), e.out())) Fail(e);
        },
        [acquired](Napi::Env env) -> Napi::Value { return Napi::Boolean::New(env, *acquired); });
  }

  // unlock() → Promise<void>; a no-op when not locked.
  Napi::Value Unlock(const Napi::CallbackInfo &info) {
    return Run(info.Env(), "ostree-container:sysroot-unlock", false,
               [](OstreeSysroot *s) { ostree_sysroot_unlock(s); });
  }

  // repo(cancellable?) → Promise<Repo>: the sysroot's repository as an ordinary Repo. libostree's
  // own handle (ostree_sysroot_get_repo) is opened relative to the sysroot fd, so its path reads
  // /proc/self/fd/N, which means nothing to a subprocess; this one is opened by its real path.
  Napi::Value GetRepo(const Napi::CallbackInfo &info) {
    CancelRef c = CancelArg(info[0]);
    auto out = std::make_shared<GObj<OstreeRepo>>();
    return Run(
        info.Env(), "ostree-container:sysroot-repo", false,
        [c, out](OstreeSysroot *s) {
          GErr e;
          if (!ostree_sysroot_ensure_initialized(s, c.get(), e.out())) Fail(e);
          GObj<GFile> path(g_file_resolve_relative_path(ostree_sysroot_get_path(s), "ostree/repo"));
          GObj<OstreeRepo> repo(ostree_repo_new(path.get()));
          if (!ostree_repo_open(repo.get(), c.get(), e.out())) Fail(e);
          *out = std::move(repo);
        },
        [out](Napi::Env env) -> Napi::Value { return RepoToJs(env, out->get()); });
  }

  // initOsname(osname, cancellable?) → Promise<void> (`ostree admin os-init`)
  Napi::Value InitOsname(const Napi::CallbackInfo &info) {
    std::string osname = StringArg(info[0], "initOsname: osname");
    CancelRef c = CancelArg(info[1]);
    return Run(info.Env(), "ostree-container:sysroot-init-osname", false, [=](OstreeSysroot *s) {
      GErr e;
      if (!ostree_sysroot_init_osname(s, osname.c_str(), c.get(), e.out())) Fail(e);
    });
  }

  // deployments() → Promise<Deployment[]> in boot order (index 0 = default).
  Napi::Value Deployments(const Napi::CallbackInfo &info) {
    auto out = std::make_shared<DeploymentList>();
    return Run(
        info.Env(), "ostree-container:sysroot-deployments", true,
        [out](OstreeSysroot *s) {
          g_autoptr(GPtrArray) list = ostree_sysroot_get_deployments(s);
          for (guint i = 0; i < list->len; i++)
            out->push_back(Snapshot(s, OSTREE_DEPLOYMENT(g_ptr_array_index(list, i))));
        },
        [out](Napi::Env env) -> Napi::Value {
          Napi::Array a = Napi::Array::New(env, out->size());
          for (size_t i = 0; i < out->size(); i++) a.Set(static_cast<uint32_t>(i), DeploymentToJs(env, (*out)[i]));
          return a;
        });
  }

  // One deployment (or null) picked by `pick` on the loaded sysroot.
  Napi::Value OneDeployment(Napi::Env env, const char *name,
                            std::function<OstreeDeployment *(OstreeSysroot *)> pick, bool owned) {
    auto out = std::make_shared<std::optional<DeploymentInfo>>();
    return Run(
        env, name, true,
        [pick, owned, out](OstreeSysroot *s) {
          OstreeDeployment *d = pick(s);
          if (d) *out = Snapshot(s, d);
          if (d && owned) g_object_unref(d);
        },
        [out](Napi::Env env) { return OptDeploymentToJs(env, *out); });
  }

  Napi::Value BootedDeployment(const Napi::CallbackInfo &info) {
    return OneDeployment(info.Env(), "ostree-container:sysroot-booted", ostree_sysroot_get_booted_deployment, false);
  }

  Napi::Value StagedDeployment(const Napi::CallbackInfo &info) {
    return OneDeployment(info.Env(), "ostree-container:sysroot-staged", ostree_sysroot_get_staged_deployment, false);
  }

  // mergeDeployment(osname | null) → Promise<Deployment | null>: the deployment whose /etc a new
  // one inherits (booted if it has that osname, else the default one of that stateroot).
  Napi::Value MergeDeployment(const Napi::CallbackInfo &info) {
    auto osname = OptStringArg(info[0], "mergeDeployment: osname");
    return OneDeployment(
        info.Env(), "ostree-container:sysroot-merge-deployment",
        [osname](OstreeSysroot *s) { return ostree_sysroot_get_merge_deployment(s, OptCStr(osname)); }, true);
  }

  // deployTree / stageTree(osname | null, revision, origin | null, merge | null,
  //   { overrideKernelArgv?: string[], overlayInitrds?: string[] }, cancellable?) → Promise<Deployment>
  Napi::Value DeployOrStage(const Napi::CallbackInfo &info, bool stage) {
    const char *fn = stage ? "stageTree" : "deployTree";
    auto osname = OptStringArg(info[0], (std::string(fn) + ": osname").c_str());
    std::string revision = ChecksumArg(info[1], (std::string(fn) + ": revision").c_str());
    KeyFileRef origin = OriginArg(info[2], (std::string(fn) + ": origin").c_str());
    DeploymentRef merge =
        OptDeploymentArg(info[3], (std::string(fn) + ": merge deployment").c_str(), state_->sysroot.get());
    std::optional<std::vector<std::string>> kargs, initrds;
    Napi::Value k = Opt(info[4], "overrideKernelArgv");
    if (!k.IsUndefined() && !k.IsNull()) kargs = StringArrayArg(k, (std::string(fn) + ": overrideKernelArgv").c_str());
    Napi::Value ir = Opt(info[4], "overlayInitrds");
    if (!ir.IsUndefined() && !ir.IsNull()) initrds = StringArrayArg(ir, (std::string(fn) + ": overlayInitrds").c_str());
    CancelRef c = CancelArg(info[5]);
    auto out = std::make_shared<std::optional<DeploymentInfo>>();
    return Run(
        info.Env(), stage ? "ostree-container:sysroot-stage-tree" : "ostree-container:sysroot-deploy-tree", true,
        [=](OstreeSysroot *s) {
          OstreeSysrootDeployTreeOpts opts = {};
          std::optional<Strv> kv, iv;
          if (kargs) opts.override_kernel_argv = kv.emplace(*kargs).get();
          if (initrds) opts.overlay_initrds = iv.emplace(*initrds).get();
          OstreeDeployment *created = nullptr;
          GErr e;
          bool ok = stage ? ostree_sysroot_stage_tree_with_options(s, OptCStr(osname), revision.c_str(), origin.get(),
                                                                   merge.get(), &opts, &created, c.get(), e.out())
                          : ostree_sysroot_deploy_tree_with_options(s, OptCStr(osname), revision.c_str(), origin.get(),
                                                                    merge.get(), &opts, &created, c.get(), e.out());
          GObj<OstreeDeployment> owned(created);
          if (!ok) Fail(e);
          *out = Snapshot(s, created);
        },
        [out](Napi::Env env) { return OptDeploymentToJs(env, *out); });
  }
  Napi::Value DeployTree(const Napi::CallbackInfo &info) { return DeployOrStage(info, false); }
  Napi::Value StageTree(const Napi::CallbackInfo &info) { return DeployOrStage(info, true); }

  // simpleWriteDeployment(osname | null, deployment, merge | null, { retain, notDefault, noClean,
  //   retainPending, retainRollback }, cancellable?) → Promise<void>: make `deployment` the
  // default (unless notDefault), keeping what the flags say, and write the bootloader config.
  Napi::Value SimpleWriteDeployment(const Napi::CallbackInfo &info) {
    auto osname = OptStringArg(info[0], "simpleWriteDeployment: osname");
    DeploymentRef d = DeploymentArg(info[1], "simpleWriteDeployment: deployment", state_->sysroot.get());
    DeploymentRef merge = OptDeploymentArg(info[2], "simpleWriteDeployment: merge deployment", state_->sysroot.get());
    int flags = OSTREE_SYSROOT_SIMPLE_WRITE_DEPLOYMENT_FLAGS_NONE;
    static const std::pair<const char *, int> kFlags[] = {
        {"retain", OSTREE_SYSROOT_SIMPLE_WRITE_DEPLOYMENT_FLAGS_RETAIN},
        {"notDefault", OSTREE_SYSROOT_SIMPLE_WRITE_DEPLOYMENT_FLAGS_NOT_DEFAULT},
        {"noClean", OSTREE_SYSROOT_SIMPLE_WRITE_DEPLOYMENT_FLAGS_NO_CLEAN},
        {"retainPending", OSTREE_SYSROOT_SIMPLE_WRITE_DEPLOYMENT_FLAGS_RETAIN_PENDING},
        {"retainRollback", OSTREE_SYSROOT_SIMPLE_WRITE_DEPLOYMENT_FLAGS_RETAIN_ROLLBACK},
    };
    for (const auto &f : kFlags)
      if (Opt(info[3], f.first).ToBoolean()) flags |= f.second;
    CancelRef c = CancelArg(info[4]);
    return Run(info.Env(), "ostree-container:sysroot-simple-write", true, [=](OstreeSysroot *s) {
      GErr e;
      if (!ostree_sysroot_simple_write_deployment(s, OptCStr(osname), d.get(), merge.get(),
                                                  static_cast<OstreeSysrootSimpleWriteDeploymentFlags>(flags), c.get(),
                                                  e.out()))
        Fail(e);
    });
  }

  // writeDeployments(deployments, { doPostclean }, cancellable?) → Promise<void>: the new full
  // list in boot order; deployments left out are removed (`ostree admin undeploy`).
  Napi::Value WriteDeployments(const Napi::CallbackInfo &info) {
    if (!info[0].IsArray()) throw Napi::TypeError::New(info.Env(), "writeDeployments: deployments must be an array");
    Napi::Array a = info[0].As<Napi::Array>();
    auto list = std::make_shared<std::vector<DeploymentRef>>();
    for (uint32_t i = 0; i < a.Length(); i++)
      list->push_back(DeploymentArg(a.Get(i), "writeDeployments: deployments[]", state_->sysroot.get()));
    bool postclean = Opt(info[1], "doPostclean").ToBoolean();
    CancelRef c = CancelArg(info[2]);
    return Run(info.Env(), "ostree-container:sysroot-write-deployments", true, [=](OstreeSysroot *s) {
      g_autoptr(GPtrArray) arr = g_ptr_array_new();
      for (const auto &d : *list) g_ptr_array_add(arr, d.get());
      OstreeSysrootWriteDeploymentsOpts opts = {};
      opts.do_postclean = postclean;
      GErr e;
      if (!ostree_sysroot_write_deployments_with_options(s, arr, &opts, c.get(), e.out())) Fail(e);
    });
  }

  // writeOrigin(deployment, origin, cancellable?) → Promise<void>
  Napi::Value WriteOrigin(const Napi::CallbackInfo &info) {
    DeploymentRef d = DeploymentArg(info[0], "writeOrigin: deployment", state_->sysroot.get());
    KeyFileRef origin = OriginArg(info[1], "writeOrigin: origin");
    if (!origin) throw Napi::TypeError::New(info.Env(), "writeOrigin: origin is required");
    CancelRef c = CancelArg(info[2]);
    return Run(info.Env(), "ostree-container:sysroot-write-origin", true, [=](OstreeSysroot *s) {
      GErr e;
      if (!ostree_sysroot_write_origin_file(s, d.get(), origin.get(), c.get(), e.out())) Fail(e);
    });
  }

  // cleanup(cancellable?) → Promise<void>: old boot dirs and deployments, then a repo prune.
  Napi::Value Cleanup(const Napi::CallbackInfo &info) {
    CancelRef c = CancelArg(info[0]);
    return Run(info.Env(), "ostree-container:sysroot-cleanup", true, [=](OstreeSysroot *s) {
      GErr e;
      if (!ostree_sysroot_cleanup(s, c.get(), e.out())) Fail(e);
    });
  }

  StateRef state_;
};

}  // namespace

void InitSysroot(Napi::Env env, Napi::Object exports) {
  DeploymentWrap::Init(env, exports);
  SysrootWrap::Init(env, exports);
}

}  // namespace oc
