// Repo: open/create and the OstreeRepo calls the TypeScript layer needs. Every blocking call
// runs on the thread pool through PromiseWorker; the JS object only holds a GObject ref.
#include "repo.h"

#include <string>

#include "modules.h"
#include "util/async.h"
#include "util/cancellable.h"
#include "util/classes.h"
#include "util/errors.h"

namespace oc {
namespace {

class RepoWrap : public Napi::ObjectWrap<RepoWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(env, "Repo",
                                   {
                                       StaticMethod("open", &RepoWrap::Open),
                                       StaticMethod("create", &RepoWrap::Create),
                                       InstanceAccessor("path", &RepoWrap::Path, nullptr),
                                   });
    RegisterClass(env, "Repo", f);
    exports.Set("Repo", f);
  }

  // Only called from Wrap(): JS cannot construct a Repo without open/create.
  explicit RepoWrap(const Napi::CallbackInfo &info) : Napi::ObjectWrap<RepoWrap>(info) {
    if (!info[0].IsExternal()) throw Napi::TypeError::New(info.Env(), "use Repo.open() or Repo.create()");
    repo_.reset(OSTREE_REPO(g_object_ref(info[0].As<Napi::External<OstreeRepo>>().Data())));
  }

  static Napi::Object Wrap(Napi::Env env, OstreeRepo *repo) {
    auto &ctor = GetAddonData(env).classes.at("Repo");
    return ctor.New({Napi::External<OstreeRepo>::New(env, repo)});
  }

  OstreeRepo *repo() const { return repo_.get(); }

 private:
  // Repo.open(path, cancellable?) → Promise<Repo>
  static Napi::Value Open(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString()) throw Napi::TypeError::New(env, "Repo.open: path must be a string");
    std::string path = info[0].As<Napi::String>();
    auto cancellable = std::make_shared<GObj<GCancellable>>(Cancellable::From(info[1]));
    auto result = std::make_shared<GObj<OstreeRepo>>();
    return PromiseWorker::Run(
        env, "ostree-container:repo-open",
        [path, cancellable, result](ErrorInfo &err) {
          GObj<GFile> file(g_file_new_for_path(path.c_str()));
          GObj<OstreeRepo> repo(ostree_repo_new(file.get()));
          GErr e;
          if (!ostree_repo_open(repo.get(), cancellable->get(), e.out())) {
            err = e.Take();
            err.Prefix("Opening ostree repository at '" + path + "'");
            return;
          }
          *result = std::move(repo);
        },
        [result](Napi::Env env) -> Napi::Value { return Wrap(env, result->get()); });
  }

  // Repo.create(path, mode, cancellable?) → Promise<Repo>; mode is an ostree mode name.
  static Napi::Value Create(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString()) throw Napi::TypeError::New(env, "Repo.create: path must be a string");
    if (!info[1].IsString()) throw Napi::TypeError::New(env, "Repo.create: mode must be a string");
    std::string path = info[0].As<Napi::String>();
    std::string mode_name = info[1].As<Napi::String>();
    OstreeRepoMode mode;
    {
      GErr e;
      if (!ostree_repo_mode_from_string(mode_name.c_str(), &mode, e.out())) throw ToJsError(env, e.Take());
    }
    auto cancellable = std::make_shared<GObj<GCancellable>>(Cancellable::From(info[2]));
    auto result = std::make_shared<GObj<OstreeRepo>>();
    return PromiseWorker::Run(
        env, "ostree-container:repo-create",
        [path, mode, cancellable, result](ErrorInfo &err) {
          // ostree_repo_create() (not _create_at) so the repo keeps its real path.
          GObj<GFile> file(g_file_new_for_path(path.c_str()));
          GObj<OstreeRepo> repo(ostree_repo_new(file.get()));
          GErr e;
          if (!ostree_repo_create(repo.get(), mode, cancellable->get(), e.out())) {
            err = e.Take();
            err.Prefix("Creating ostree repository at '" + path + "'");
            return;
          }
          *result = std::move(repo);
        },
        [result](Napi::Env env) -> Napi::Value { return Wrap(env, result->get()); });
  }

  Napi::Value Path(const Napi::CallbackInfo &info) {
    GFile *f = ostree_repo_get_path(repo_.get());
    GStr p(g_file_get_path(f));
    return Napi::String::New(info.Env(), p.get());
  }

  GObj<OstreeRepo> repo_;
};

}  // namespace

GObj<OstreeRepo> RepoFromJs(const Napi::Value &v, const char *what) {
  if (!IsInstance(v, "Repo")) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a Repo");
  RepoWrap *w = RepoWrap::Unwrap(v.As<Napi::Object>());
  return GObj<OstreeRepo>(OSTREE_REPO(g_object_ref(w->repo())));
}

void InitRepo(Napi::Env env, Napi::Object exports) { RepoWrap::Init(env, exports); }

}  // namespace oc
