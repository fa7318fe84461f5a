// Raw LMDB access for the CLI (mdb_stat / mdb_dump / mdb_load equivalents).
#pragma once
#include <napi.h>

namespace lmdbtxn {

// { stat, dump, load }: see raw_env.cc.
Napi::Object RawEnvFunctions(Napi::Env env);

}  // namespace lmdbtxn
