// Argument checks for the addon's methods. lib/ passes well-typed values, but
// a wrong one must still be a TypeError thrown before any lock or transaction
// is taken: every method reads all its arguments through these first.
#pragma once
#include <napi.h>

#include <string>

namespace lmdbtxn {

inline double NumberArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

inline Napi::Function FunctionArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsFunction()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a function");
  return info[i].As<Napi::Function>();
}

}  // namespace lmdbtxn
