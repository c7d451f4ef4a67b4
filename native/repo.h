// The `Repo` class: a JS handle on an OstreeRepo. Other native files (layer import/export)
// take a Repo argument and borrow its OstreeRepo through RepoFromJs.
#pragma once

#include <napi.h>
#include <ostree.h>

#include "util/gobj.h"

namespace oc {

// A new reference to the OstreeRepo behind a JS Repo object; throws a TypeError naming
// `what` if `v` is not an open Repo.
GObj<OstreeRepo> RepoFromJs(const Napi::Value &v, const char *what = "repo");

// A JS Repo for an OstreeRepo obtained elsewhere (e.g. a sysroot's repo); takes a new reference.
Napi::Object RepoToJs(Napi::Env env, OstreeRepo *repo);

}  // namespace oc
