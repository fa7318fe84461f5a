#include "message_read.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "addon.h"
#include "cursor.h"
#include "errors.h"

namespace lmdbtxn {

namespace {

// Record kinds, shared with lib/bulk-read.ts.
enum Kind : uint32_t { kNone = 0, kValue = 1, kGroupRec = 2, kLinkRec = 3, kTruncated = 4 };

constexpr uint64_t kMaxBytes = 0xffffffffull;  // u32 offsets

// Collects one call's records, strings and values; values are copied once,
// from LMDB straight into the ArrayBuffer handed to JS (the MDB_vals stay
// valid: nothing writes during the call).
class Layout {
 public:
  explicit Layout(Napi::Env env) : env_(env) { words_.reserve(64); }
  void Word(uint32_t w) { words_.push_back(w); }
  void Str(const void* p, size_t n) {
    Word(static_cast<uint32_t>(strings_.size()));
    Word(static_cast<uint32_t>(n));
    strings_.append(static_cast<const char*>(p), n);
  }
  void Str(std::string_view s) { Str(s.data(), s.size()); }
  void Value(const MDB_val& v) {
    Word(static_cast<uint32_t>(total_));
    Word(static_cast<uint32_t>(v.mv_size));
    values_.push_back(v);
    total_ += v.mv_size;
    if (total_ > kMaxBytes) TooLarge();
  }
  void NoValue() { Word(0); Word(0); }

  Napi::Value Finish() {
    uint64_t metaBytes = 8 + 4 * static_cast<uint64_t>(words_.size()) + strings_.size();
    if (metaBytes > kMaxBytes) TooLarge();
    Napi::ArrayBuffer values = Napi::ArrayBuffer::New(env_, static_cast<size_t>(total_));
    uint8_t* dst = static_cast<uint8_t*>(values.Data());
    for (const MDB_val& v : values_) {
      if (v.mv_size) std::memcpy(dst, v.mv_data, v.mv_size);
      dst += v.mv_size;
    }
    AddonData* addon = GetAddonData(env_);
    bool fits = metaBytes <= addon->readBufferSize;
    Napi::ArrayBuffer metaBuffer;
    uint8_t* meta = addon->readBufferData;
    if (!fits) {
      metaBuffer = Napi::ArrayBuffer::New(env_, static_cast<size_t>(metaBytes));
      meta = static_cast<uint8_t*>(metaBuffer.Data());
    }
    uint32_t head[2] = {static_cast<uint32_t>(words_.size()), static_cast<uint32_t>(strings_.size())};
    std::memcpy(meta, head, 8);
    if (!words_.empty()) std::memcpy(meta + 8, words_.data(), 4 * words_.size());
    if (!strings_.empty()) std::memcpy(meta + 8 + 4 * words_.size(), strings_.data(), strings_.size());
    if (fits) return values;
    Napi::Array both = Napi::Array::New(env_, 2);
    both.Set(0u, values);
    both.Set(1u, metaBuffer);
    return both;
  }

 private:
  [[noreturn]] void TooLarge() {
    throw Napi::RangeError::New(env_, "more than 4 GiB in one call: read it in pages (entries() with limit, or iterate())");
  }
  Napi::Env env_;
  std::vector<uint32_t> words_;
  std::string strings_;
  std::vector<MDB_val> values_;
  uint64_t total_ = 0;
};

// A read cursor, RAII: a throw between open and close cannot leak it.
// ---- readMessage -------------------------------------------------------------
//
// Records: [kind, parent, name(off, len), value(off, len)]; record 0 is the
// root group (name = its resolved path). kValue / kGroupRec carry the last
// segment as name and hang under record `parent`; kLinkRec carries the link's
// full path and its target (a string); kTruncated the full path of a
// sub-group beyond `depth`.

struct GroupScan {
  std::string key;   // the group's (resolved) key
  uint32_t record;   // its record
  uint32_t level;    // its level (root 0)
  int hops;          // followed links on the way here
};

class MessageReader {
 public:
  MessageReader(const ReadContext& ctx, const ReadArgs& a, Layout& out)
      : ctx_(ctx), depth_(a.depth), follow_(a.followLinks), out_(out) {}

  bool Run(std::string_view path) {
    // Fast path: the group is at `path` itself; its scan then starts from the
    // cursor already there (one B-tree descent for the whole message).
    auto cursor = std::make_unique<ReadCursor>(ctx_);
    MDB_val k, v;
    Entry e;
    std::string root;
    bool positioned = path.size() <= kMaxKeySize && cursor->Exact(path, &k, &v);
    if (positioned) DecodeEntry(ctx_, path, v, &e);
    if (positioned && e.tag != kLink) {
      root.assign(path);
    } else {
      positioned = false;
      if (!Resolve(ctx_, path, true, &e, &root)) return false;
    }
    if (e.tag != kGroup) {
      Throw(ctx_.env, ErrorKind::InvalidPath,
            "readMessage(\"" + std::string(path) + "\"): " + (root != path ? "it resolves to \"" + root + "\", " : std::string()) +
                (e.tag == kSimple ? "a simple value" : "a link") + ", not a group (use read())");
    }
    Record(kGroupRec, 0);
    out_.Str(root);
    out_.NoValue();
    queue_.push_back(GroupScan{std::move(root), 0, 0, 0});
    // Groups reached through links are scanned after the one that links to
    // them (no recursion: a chain of links cannot exhaust the stack).
    positionedRoot_ = positioned;
    for (size_t i = 0; i < queue_.size(); ++i) Scan(i, i == 0 && positioned ? std::move(cursor) : nullptr);
    return true;
  }

  uint32_t Record(uint32_t kind, uint32_t parent) {
    out_.Word(kind);
    out_.Word(parent);
    return count_++;
  }

  // `at`: a cursor on the group's own key (the first child is then next),
  // or null to seek.
  void Scan(size_t job, std::unique_ptr<ReadCursor> at) {
    const std::string groupKey = queue_[job].key;
    const uint32_t rootRecord = queue_[job].record, baseLevel = queue_[job].level;
    const int hops = queue_[job].hops;
    std::string prefix = groupKey + '/';
    if (prefix.size() >= kMaxKeySize) return;  // no child key can exist
    // rel path → record of a (possibly implicit) group, or kBlocked for a
    // simple value, a link or a truncated group: nothing under those belongs.
    constexpr uint32_t kBlocked = 0xffffffffu;
    std::unordered_map<std::string, uint32_t> nodes;
    std::unique_ptr<ReadCursor> own = at ? std::move(at) : std::make_unique<ReadCursor>(ctx_);
    ReadCursor& cursor = *own;
    MDB_val k, v;
    // From the group's own key the next key is its first child, unless a
    // sibling such as `name-x` sorts between: then seek.
    bool fromGroup = job == 0 && positionedRoot_;
    bool more = fromGroup ? cursor.Next(&k, &v) : cursor.Seek(prefix, &k, &v);
    if (fromGroup && more && (k.mv_size < prefix.size() || std::memcmp(k.mv_data, prefix.data(), prefix.size()) != 0)) {
      more = cursor.Seek(prefix, &k, &v);
    }
    while (more) {
      if (k.mv_size < prefix.size() || std::memcmp(k.mv_data, prefix.data(), prefix.size()) != 0) break;
      std::string_view key(static_cast<const char*>(k.mv_data), k.mv_size);
      std::string_view rel = key.substr(prefix.size());
      Entry e;
      DecodeEntry(ctx_, key, v, &e);
      // Parent: the root for a direct child, else the ancestor chain.
      uint32_t parent = rootRecord, level = baseLevel + 1;
      bool skip = false;
      std::string skipPast;  // seek past this rel's subtree
      for (size_t slash = rel.find('/'); slash != std::string_view::npos; slash = rel.find('/', slash + 1)) {
        std::string anc(rel.substr(0, slash));
        auto it = nodes.find(anc);
        uint32_t rec;
        if (it != nodes.end()) {
          rec = it->second;
        } else {
          Entry a;
          bool has = Lookup(ctx_, prefix + anc, &a);
          if (has && a.tag != kGroup) {
            rec = kBlocked;  // under a value or a link: not part of the message
          } else if (level >= depth_) {  // its children lie beyond `depth`
            rec = kBlocked;
            Truncated(parent, prefix + anc);
          } else if (!has && e.tag == kLink && !follow_) {
            // A link needs no parent object: an implicit parent holding only
            // links is no field (writeMessage never made it a group).
            level++;
            parent = kBlocked - 1;  // resolved lazily below if ever needed
            continue;
          } else {
            if (parent == kBlocked - 1) parent = EnsureChain(nodes, rel, slash, rootRecord, baseLevel);
            rec = Record(kGroupRec, parent);
            out_.Str(std::string_view(anc).substr(anc.rfind('/') == std::string::npos ? 0 : anc.rfind('/') + 1));
            out_.NoValue();
          }
          nodes.emplace(anc, rec);
        }
        if (rec == kBlocked) {
          skip = true;
          skipPast = anc;
          break;
        }
        parent = rec;
        level++;
      }
      if (skip) {
        more = cursor.Seek(prefix + skipPast + '0', &k, &v);  // '0' follows '/'
        continue;
      }
      std::string_view name = rel.substr(rel.rfind('/') == std::string_view::npos ? 0 : rel.rfind('/') + 1);
      if (e.tag == kSimple) {
        if (parent == kBlocked - 1) parent = EnsureChain(nodes, rel, rel.size(), rootRecord, baseLevel);
        Record(kValue, parent);
        out_.Str(name);
        out_.Value(e.payload);
        nodes.emplace(std::string(rel), kBlocked);
      } else if (e.tag == kGroup) {
        if (parent == kBlocked - 1) parent = EnsureChain(nodes, rel, rel.size(), rootRecord, baseLevel);
        if (level >= depth_) {
          Truncated(parent, key);
          nodes.emplace(std::string(rel), kBlocked);
        } else {
          uint32_t rec = Record(kGroupRec, parent);
          out_.Str(name);
          out_.NoValue();
          nodes.emplace(std::string(rel), rec);
        }
      } else {
        std::string_view target(static_cast<const char*>(e.payload.mv_data), e.payload.mv_size);
        nodes.emplace(std::string(rel), kBlocked);
        if (follow_) {
          if (parent == kBlocked - 1) parent = EnsureChain(nodes, rel, rel.size(), rootRecord, baseLevel);
          Follow(parent, key, target, name, level, hops);
        } else {
          Record(kLinkRec, 0);
          out_.Str(key);
          out_.Str(target);
        }
      }
      // Keys under it come later (after siblings such as `name-x` that sort
      // between): the first one finds it blocked and seeks past its subtree.
      more = cursor.Next(&k, &v);
    }
  }

  // Implicit ancestors of rel[0..end) skipped for links: made now that a
  // field under them needs its parent object.
  uint32_t EnsureChain(std::unordered_map<std::string, uint32_t>& nodes, std::string_view rel, size_t end,
                       uint32_t rootRecord, uint32_t baseLevel) {
    uint32_t parent = rootRecord;
    for (size_t slash = rel.find('/'); slash != std::string_view::npos && slash < end; slash = rel.find('/', slash + 1)) {
      std::string anc(rel.substr(0, slash));
      auto it = nodes.find(anc);
      if (it != nodes.end()) {
        parent = it->second;
        continue;
      }
      uint32_t rec = Record(kGroupRec, parent);
      out_.Str(std::string_view(anc).substr(anc.rfind('/') == std::string::npos ? 0 : anc.rfind('/') + 1));
      out_.NoValue();
      nodes.emplace(anc, rec);
      parent = rec;
    }
    return parent;
  }

  void Truncated(uint32_t parent, std::string_view fullPath) {
    Record(kTruncated, parent);
    out_.Str(fullPath);
    out_.NoValue();
  }

  // links: 'follow' — the link counts one hop on the way from the root
  // (maxLinkDepth, as for any read); a dangling link stays a link.
  void Follow(uint32_t parent, std::string_view key, std::string_view target, std::string_view name,
              uint32_t level, int hops) {
    if (hops + 1 > ctx_.maxLinkDepth) {
      Throw(ctx_.env, ErrorKind::LinkLoop,
            "readMessage followed more than " + std::to_string(ctx_.maxLinkDepth) +
                " links (maxLinkDepth) reaching \"" + std::string(key) + "\"");
    }
    Entry t;
    std::string resolved;
    if (!Resolve(ctx_, target, true, &t, &resolved)) {
      Record(kLinkRec, 0);
      out_.Str(key);
      out_.Str(target);
      return;
    }
    if (t.tag == kSimple) {
      Record(kValue, parent);
      out_.Str(name);
      out_.Value(t.payload);
    } else if (level >= depth_) {
      Truncated(parent, key);
    } else {
      uint32_t rec = Record(kGroupRec, parent);
      out_.Str(name);
      out_.NoValue();
      queue_.push_back(GroupScan{std::move(resolved), rec, level, hops + 1});
    }
  }

  const ReadContext& ctx_;
  double depth_;
  bool follow_;
  Layout& out_;
  uint32_t count_ = 0;
  bool positionedRoot_ = false;
  std::vector<GroupScan> queue_;
};

// ---- entries / keyEntries / readMany ------------------------------------------
// entries/keyEntries records: [kind, name(off, len), value(off, len)]; a
// link's value is its target in the strings. readMany: [found, value(off, len)].

void EntryRecord(const ReadContext& ctx, Layout& out, std::string_view key, std::string_view name, bool values) {
  Entry e;
  if (!Lookup(ctx, key, &e)) {
    out.Word(kNone);
    out.Str(name);
    out.NoValue();
    return;
  }
  out.Word(e.tag == kSimple ? kValue : e.tag == kGroup ? kGroupRec : kLinkRec);
  out.Str(name);
  if (e.tag == kSimple && values) out.Value(e.payload);
  else if (e.tag == kLink) out.Str(e.payload.mv_data, e.payload.mv_size);
  else out.NoValue();
}

}  // namespace

void ParseBulkArgs(const Napi::CallbackInfo& info, ReadOp op, ReadArgs& a) {
  Napi::Env env = info.Env();
  switch (op) {
    case ReadOp::ReadMessage: {
      ReadKey(env, info[0], "path", a.key);
      if (!info[1].IsNumber()) throw Napi::TypeError::New(env, "depth must be a number");
      a.depth = info[1].As<Napi::Number>().DoubleValue();
      if (!(a.depth >= 1) || (std::isfinite(a.depth) && a.depth != std::floor(a.depth))) {
        throw Napi::RangeError::New(env, "depth must be a positive integer or Infinity");
      }
      if (!info[2].IsBoolean()) throw Napi::TypeError::New(env, "follow must be a boolean");
      a.followLinks = info[2].As<Napi::Boolean>();
      break;
    }
    case ReadOp::Entries:
    case ReadOp::KeyEntries:
      if (op == ReadOp::Entries) {
        ReadKey(env, info[0], "path", a.key);
      } else {
        if (!info[0].IsString()) throw Napi::TypeError::New(env, "prefix must be a string");
        a.prefix = info[0].As<Napi::String>().Utf8Value();
      }
      ReadPaging(info, a);
      a.values = info[3].ToBoolean();
      break;
    case ReadOp::ReadMany: {
      if (!info[0].IsArray()) throw Napi::TypeError::New(env, "paths must be an array");
      Napi::Array paths = info[0].As<Napi::Array>();
      a.paths.resize(paths.Length());
      for (uint32_t i = 0; i < paths.Length(); ++i) {
        std::string name = "paths[" + std::to_string(i) + "]";
        ReadKey(env, paths.Get(i), name.c_str(), a.paths[i]);
      }
      break;
    }
    default: break;
  }
}

Napi::Value RunBulkRead(const ReadContext& ctx, ReadOp op, const ReadArgs& a) {
  Layout out(ctx.env);
  switch (op) {
    case ReadOp::ReadMessage: {
      MessageReader reader(ctx, a, out);
      if (!reader.Run(a.key.view())) return ctx.env.Undefined();
      break;
    }
    case ReadOp::Entries: {
      std::string parent;
      Entry e;
      Resolve(ctx, a.key.view(), true, &e, &parent);
      for (const std::string& name : ListChildren(ctx, parent, a.afterOrNull(), a.limit)) {
        EntryRecord(ctx, out, parent + '/' + name, name, a.values);
      }
      break;
    }
    case ReadOp::KeyEntries:
      for (const std::string& key : ListKeys(ctx, a.prefix, a.afterOrNull(), a.limit)) {
        EntryRecord(ctx, out, key, key, a.values);
      }
      break;
    case ReadOp::ReadMany:
      for (const Key& key : a.paths) {
        Entry e;
        if (Resolve(ctx, key.view(), true, &e, nullptr) && e.tag == kSimple) {
          out.Word(1);
          out.Value(e.payload);
        } else {
          out.Word(0);
          out.NoValue();
        }
      }
      break;
    default: return ctx.env.Undefined();
  }
  return out.Finish();
}

}  // namespace lmdbtxn
