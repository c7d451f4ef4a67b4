// Each native concept registers its exports here; addon.cc only calls these.
#pragma once

#include <napi.h>

namespace oc {
void InitRepo(Napi::Env env, Napi::Object exports);
void InitLayerExport(Napi::Env env, Napi::Object exports);
void InitLayerImport(Napi::Env env, Napi::Object exports);
void InitLayerRewrite(Napi::Env env, Napi::Object exports);
void InitSeqpacket(Napi::Env env, Napi::Object exports);
void InitSysroot(Napi::Env env, Napi::Object exports);
void InitLayerDerived(Napi::Env env, Napi::Object exports);
void InitMerge(Napi::Env env, Napi::Object exports);
void InitScheduler(Napi::Env env, Napi::Object exports);
void InitLayerSpool(Napi::Env env, Napi::Object exports);
void InitJournal(Napi::Env env, Napi::Object exports);
void InitProcess(Napi::Env env, Napi::Object exports);
}  // namespace oc
