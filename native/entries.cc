#include "entries.h"

#include <cstring>
#include <limits>

#include "addon.h"
#include "cursor.h"
#include "errors.h"
#include "message_read.h"

namespace lmdbtxn {

namespace {

bool StartsWith(const MDB_val& v, std::string_view prefix) {
  return v.mv_size >= prefix.size() && std::memcmp(v.mv_data, prefix.data(), prefix.size()) == 0;
}

bool HasKeyWithPrefix(ReadCursor& cursor, std::string_view prefix) {
  MDB_val k, v;
  return cursor.Seek(prefix, &k, &v) && StartsWith(k, prefix);
}

[[noreturn]] void ThrowLoop(const ReadContext& ctx, std::string_view start) {
  Throw(ctx.env, ErrorKind::LinkLoop,
        "resolving \"" + std::string(start) + "\" followed more than " +
            std::to_string(ctx.maxLinkDepth) + " links (maxLinkDepth)");
}

}  // namespace

bool Lookup(const ReadContext& ctx, std::string_view key, Entry* out) {
  if (key.size() > kMaxKeySize) return false;  // cannot exist
  MDB_val k{key.size(), const_cast<char*>(key.data())}, v;
  int rc = mdb_get(ctx.txn, ctx.dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return false;
  Check(ctx.env, rc, "mdb_get");
  DecodeEntry(ctx, key, v, out);
  return true;
}

void DecodeEntry(const ReadContext& ctx, std::string_view key, const MDB_val& v, Entry* out) {
  const uint8_t* bytes = static_cast<const uint8_t*>(v.mv_data);
  if (v.mv_size == 0 || bytes[0] < kSimple || bytes[0] > kLink) {
    Throw(ctx.env, ErrorKind::Format,
          "entry \"" + std::string(key) + "\" has no valid lmdb-txn type tag");
  }
  if (bytes[0] == kGroup && v.mv_size != 1) {
    Throw(ctx.env, ErrorKind::Format, "entry \"" + std::string(key) + "\" is a malformed group marker");
  }
  out->tag = bytes[0];
  out->payload = MDB_val{v.mv_size - 1, const_cast<uint8_t*>(bytes + 1)};
}

bool Resolve(const ReadContext& ctx, std::string_view key, bool followLast, Entry* out,
             std::string* finalPath) {
  Entry e;
  bool have = Lookup(ctx, key, &e);
  if (have && (e.tag != kLink || !followLast)) {  // the fast path: one B-tree lookup
    *out = e;
    if (finalPath) finalPath->assign(key);
    return true;
  }
  std::string path(key);
  int hops = 0;
  for (;;) {
    if (have) {
      if (e.tag != kLink || !followLast) {
        *out = e;
        if (finalPath) *finalPath = std::move(path);
        return true;
      }
      if (++hops > ctx.maxLinkDepth) ThrowLoop(ctx, key);
      path.assign(static_cast<const char*>(e.payload.mv_data), e.payload.mv_size);
    } else {
      // Absent: the first (shortest) prefix that is a link redirects the path.
      bool redirected = false;
      for (size_t slash = path.find('/'); slash != std::string::npos;
           slash = path.find('/', slash + 1)) {
        Entry p;
        if (Lookup(ctx, std::string_view(path).substr(0, slash), &p) && p.tag == kLink) {
          if (++hops > ctx.maxLinkDepth) ThrowLoop(ctx, key);
          std::string rest = path.substr(slash);
          path.assign(static_cast<const char*>(p.payload.mv_data), p.payload.mv_size);
          path += rest;
          redirected = true;
          break;
        }
      }
      if (!redirected) {
        if (finalPath) *finalPath = std::move(path);
        return false;
      }
    }
    have = Lookup(ctx, path, &e);  // false past the key limit: such a path cannot exist
  }
}

std::vector<std::string> ListChildren(const ReadContext& ctx, std::string_view parent,
                                      const std::string* after, size_t limit) {
  std::vector<std::string> names;
  if (parent.size() + 2 > kMaxKeySize || limit == 0) return names;
  std::string prefix(parent);
  prefix += '/';
  ReadCursor cursor(ctx);
  // Keys are ordered bytewise with '/' as an ordinary byte, so a child `a`
  // whose only keys are `a/...` sorts after a sibling `a-b`. Names are found
  // by seeking, never by scanning a subtree: cost grows with `limit`.
  std::string last = after ? *after : std::string();
  bool haveLast = after != nullptr;
  std::string bound = haveLast ? prefix + last + '\x01' : prefix;
  while (names.size() < limit) {
    MDB_val k, v;
    if (!cursor.Seek(bound, &k, &v) || !StartsWith(k, prefix)) break;
    const char* rest = static_cast<const char*>(k.mv_data) + prefix.size();
    size_t restLen = k.mv_size - prefix.size();
    const void* slash = std::memchr(rest, '/', restLen);
    std::string name(rest, slash ? static_cast<const char*>(slash) - rest : restLen);
    if (haveLast && name <= last) {
      bound = prefix + name + '0';  // '0' follows '/': skip name's whole subtree
      continue;
    }
    // A shorter name cut before a byte below '/' sorts first but may exist
    // only as `short/...` keys, which lie after `name`: check those first.
    std::string chosen = name;
    for (size_t i = 1; i < name.size(); ++i) {
      if (static_cast<unsigned char>(name[i]) >= '/') continue;
      std::string shorter = name.substr(0, i);
      if (haveLast && shorter <= last) continue;
      if (HasKeyWithPrefix(cursor, prefix + shorter + '/')) {
        chosen = shorter;
        break;
      }
    }
    names.push_back(chosen);
    last = chosen;
    haveLast = true;
    bound = prefix + last + '\x01';
  }
  return names;
}

std::vector<std::string> ListKeys(const ReadContext& ctx, std::string_view prefix,
                                  const std::string* after, size_t limit) {
  std::vector<std::string> keys;
  if (limit == 0) return keys;
  ReadCursor cursor(ctx);
  std::string bound = after ? *after + '\0' : std::string(prefix);  // "\0": the first key > after
  if (bound < prefix) bound.assign(prefix);
  MDB_val k, v;
  while (keys.size() < limit) {
    bool found = bound.empty() ? cursor.First(&k, &v) : cursor.Seek(bound, &k, &v);
    if (!found || !StartsWith(k, prefix)) break;
    keys.emplace_back(static_cast<const char*>(k.mv_data), k.mv_size);
    bound = keys.back() + '\0';
  }
  return keys;
}

int RemoveEntries(const ReadContext& ctx, std::string_view key, bool recursive, bool* existed) {
  MDB_val k{key.size(), const_cast<char*>(key.data())};
  int rc = mdb_del(ctx.txn, ctx.dbi, &k, nullptr);
  if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return rc;
  *existed = rc == MDB_SUCCESS;
  if (!recursive || key.size() + 1 > kMaxKeySize) return MDB_SUCCESS;
  std::string prefix(key);
  prefix += '/';
  MDB_cursor* cursor = nullptr;
  rc = mdb_cursor_open(ctx.txn, ctx.dbi, &cursor);
  if (rc != MDB_SUCCESS) return rc;
  // Re-seek after each delete: simple, and correct whatever LMDB does with a
  // cursor positioned on a deleted node.
  for (;;) {
    MDB_val found{prefix.size(), prefix.data()}, v;
    rc = mdb_cursor_get(cursor, &found, &v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND || (rc == MDB_SUCCESS && !StartsWith(found, prefix))) {
      rc = MDB_SUCCESS;
      break;
    }
    if (rc != MDB_SUCCESS) break;
    rc = mdb_cursor_del(cursor, 0);
    if (rc != MDB_SUCCESS) break;
    *existed = true;
  }
  mdb_cursor_close(cursor);
  return rc;
}

// ---- JS glue -------------------------------------------------------------

// The (after?, limit?) arguments at info[1], info[2] of list(), keys(),
// entries() and keyEntries(); lib/ has validated them.
void ReadPaging(const Napi::CallbackInfo& info, ReadArgs& a) {
  a.hasAfter = info.Length() > 1 && info[1].IsString();
  if (a.hasAfter) a.after = info[1].As<Napi::String>().Utf8Value();
  if (info.Length() > 2 && info[2].IsNumber()) {
    double l = info[2].As<Napi::Number>().DoubleValue();
    if (l >= 0 && l < static_cast<double>(a.limit)) a.limit = static_cast<size_t>(l);
  }
}

namespace {

Napi::Array ToJsArray(Napi::Env env, const std::vector<std::string>& strings) {
  Napi::Array out = Napi::Array::New(env, strings.size());
  for (uint32_t i = 0; i < strings.size(); ++i) out.Set(i, Napi::String::New(env, strings[i]));
  return out;
}

}  // namespace

ReadArgs ParseReadArgs(const Napi::CallbackInfo& info, ReadOp op) {
  Napi::Env env = info.Env();
  ReadArgs a;
  if (IsBulkRead(op)) {
    ParseBulkArgs(info, op, a);
    return a;
  }
  if (op == ReadOp::Keys) {
    if (info[0].IsString()) a.prefix = info[0].As<Napi::String>().Utf8Value();
  } else {
    ReadKey(env, info[0], "path", a.key);
  }
  switch (op) {
    case ReadOp::ReadInto:
      if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
        throw Napi::TypeError::New(env, "target must be a Uint8Array");
      }
      a.target = info[1].As<Napi::Uint8Array>();
      break;
    case ReadOp::Type:
      a.follow = info.Length() < 2 || !info[1].IsBoolean() || info[1].As<Napi::Boolean>();
      break;
    case ReadOp::List:
    case ReadOp::Keys: ReadPaging(info, a); break;
    default: break;
  }
  return a;
}

Napi::Value RunRead(const ReadContext& ctx, ReadOp op, const ReadArgs& a) {
  Napi::Env env = ctx.env;
  if (IsBulkRead(op)) return RunBulkRead(ctx, op, a);
  Entry e;
  switch (op) {
    // read → undefined, or the value's length after copying it into the
    // thread's shared read buffer (lib/ copies it on into a Buffer of its
    // own), or a Buffer copy when it is larger. Always a copy: a buffer over
    // the map would dangle when the map moves or closes.
    case ReadOp::Read:
    case ReadOp::ReadString: {
      if (!Resolve(ctx, a.key.view(), true, &e, nullptr) || e.tag != kSimple) return env.Undefined();
      const char* data = static_cast<const char*>(e.payload.mv_data);
      size_t size = e.payload.mv_size;
      if (op == ReadOp::ReadString) return Napi::String::New(env, data, size);
      AddonData* addon = GetAddonData(env);
      if (size <= addon->readBufferSize) {
        std::memcpy(addon->readBufferData, data, size);
        return Napi::Number::New(env, static_cast<double>(size));
      }
      return Napi::Buffer<char>::Copy(env, data, size);
    }
    // readInto → undefined, or the value's length; the bytes are copied to
    // the target's start only when they fit.
    case ReadOp::ReadInto: {
      if (!Resolve(ctx, a.key.view(), true, &e, nullptr) || e.tag != kSimple) return env.Undefined();
      size_t size = e.payload.mv_size;
      Napi::Uint8Array target = a.target;
      if (size > 0 && size <= target.ByteLength()) std::memcpy(target.Data(), e.payload.mv_data, size);
      return Napi::Number::New(env, static_cast<double>(size));
    }
    case ReadOp::Type:
      if (!Resolve(ctx, a.key.view(), a.follow, &e, nullptr)) return env.Undefined();
      switch (e.tag) {
        case kSimple: return Napi::String::New(env, "simple");
        case kGroup: return Napi::String::New(env, "group");
        default: return Napi::String::New(env, "link");
      }
    case ReadOp::Exists: return Napi::Boolean::New(env, Resolve(ctx, a.key.view(), true, &e, nullptr));
    case ReadOp::Resolve: {
      std::string final;
      Resolve(ctx, a.key.view(), true, &e, &final);
      return Napi::String::New(env, final);
    }
    case ReadOp::List: {
      std::string parent;
      Resolve(ctx, a.key.view(), true, &e, &parent);
      return ToJsArray(env, ListChildren(ctx, parent, a.afterOrNull(), a.limit));
    }
    case ReadOp::Keys: return ToJsArray(env, ListKeys(ctx, a.prefix, a.afterOrNull(), a.limit));
    // readLink: the stored target when the literal key is a link.
    case ReadOp::ReadLink:
      if (!Lookup(ctx, a.key.view(), &e) || e.tag != kLink) return env.Undefined();
      return Napi::String::New(env, static_cast<const char*>(e.payload.mv_data), e.payload.mv_size);
    default: break;
  }
  return env.Undefined();
}

}  // namespace lmdbtxn
