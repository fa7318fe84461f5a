#include "path.h"

#include <cstring>
#include <memory>

#include "errors.h"

namespace lmdbtxn {

namespace {

// Most paths fit; longer raw strings (e.g. many repeated slashes) go to the heap.
constexpr size_t kStackRaw = 2048;

std::string Quote(std::string_view s) {
  std::string out = "\"";
  size_t n = s.size() > 80 ? 80 : s.size();
  for (size_t i = 0; i < n; ++i) out += s[i] == '\0' ? std::string("\\0") : std::string(1, s[i]);
  if (n < s.size()) out += "...";
  return out + "\"";
}

}  // namespace

void ReadKey(Napi::Env env, Napi::Value value, const char* argName, Key& out) {
  if (!value.IsString()) {
    throw Napi::TypeError::New(env, std::string(argName) + " must be a string");
  }
  char stack[kStackRaw];
  std::unique_ptr<char[]> heap;
  char* raw = stack;
  size_t len = 0;
  napi_status st = napi_get_value_string_utf8(env, value, stack, kStackRaw, &len);
  if (st != napi_ok) throw Napi::Error::New(env, "cannot read string argument");
  // napi_get_value_string_utf8 never splits a character, so a truncated copy
  // can end up to 3 bytes short of the buffer: treat that as truncated too.
  if (len + 4 >= kStackRaw) {  // may be truncated: measure, then read it whole
    napi_get_value_string_utf8(env, value, nullptr, 0, &len);
    heap.reset(new char[len + 1]);
    raw = heap.get();
    napi_get_value_string_utf8(env, value, raw, len + 1, &len);
  }

  std::string_view input(raw, len);
  size_t outLen = 0;
  bool tooLong = false;
  size_t i = 0;
  while (i < len) {
    size_t end = i;
    while (end < len && raw[end] != '/') ++end;
    std::string_view seg(raw + i, end - i);
    if (!seg.empty()) {
      if (seg == "." || seg == "..") {
        Throw(env, ErrorKind::InvalidPath,
              std::string(argName) + " " + Quote(input) + " has a '" + std::string(seg) +
                  "' segment");
      }
      if (std::memchr(seg.data(), '\0', seg.size()) != nullptr) {
        Throw(env, ErrorKind::InvalidPath,
              std::string(argName) + " " + Quote(input) + " contains a NUL byte");
      }
      size_t need = outLen + (outLen ? 1 : 0) + seg.size();
      if (need > kMaxKeySize) {
        tooLong = true;  // keep scanning: a bad segment later is the better error
      } else {
        if (outLen) out.bytes[outLen++] = '/';
        std::memcpy(out.bytes + outLen, seg.data(), seg.size());
        outLen += seg.size();
      }
    }
    i = end + 1;
  }
  if (tooLong) {
    Throw(env, ErrorKind::KeyTooLong,
          std::string(argName) + " " + Quote(input) + " is longer than LMDB's key limit of " +
              std::to_string(kMaxKeySize) + " UTF-8 bytes once normalised");
  }
  if (outLen == 0) {
    Throw(env, ErrorKind::InvalidPath, std::string(argName) + " " + Quote(input) + " is empty");
  }
  out.size = outLen;
}

}  // namespace lmdbtxn
