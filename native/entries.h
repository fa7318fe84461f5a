// The entry model over one MDB_txn (SPEC §2): tagged values, link resolution,
// child listing and recursive removal. Store reads, snapshots and write
// transactions all call these, so every read method resolves paths by the
// same rule and sees what its transaction sees.
#pragma once
#include <lmdb.h>
#include <napi.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "path.h"

namespace lmdbtxn {

// First byte of every stored value.
enum Tag : uint8_t { kSimple = 1, kGroup = 2, kLink = 3 };

struct Entry {
  uint8_t tag = 0;
  MDB_val payload{0, nullptr};  // after the tag; points into the map or dirty pages
};

struct ReadContext {
  Napi::Env env;
  MDB_txn* txn;
  MDB_dbi dbi;
  int maxLinkDepth;
};

// Exact lookup; false when absent. Throws LmdbError on other failures and
// FormatError on a value without a known tag.
bool Lookup(const ReadContext& ctx, std::string_view key, Entry* out);

// Splits a stored value (of `key`, for the error) into tag and payload; the
// one place a tag is checked. Throws FormatError on a value without one.
void DecodeEntry(const ReadContext& ctx, std::string_view key, const MDB_val& stored, Entry* out);

// Resolves `key` by the fast-path rule: exact lookup first; walk prefixes for
// links only when absent or a link. With followLast=false a link at the final
// path is returned as itself (like lstat). `finalPath` (optional) receives the
// resolved path even when nothing is there. Throws LinkLoopError.
bool Resolve(const ReadContext& ctx, std::string_view key, bool followLast, Entry* out,
             std::string* finalPath);

// Direct child names of `parent` (already resolved), bytewise after `after`
// when given, at most `limit`.
std::vector<std::string> ListChildren(const ReadContext& ctx, std::string_view parent,
                                      const std::string* after, size_t limit);

// Literal keys in bytewise order starting with `prefix`, after `after`
// when given, at most `limit`; no link is followed (for tools: dump, check).
std::vector<std::string> ListKeys(const ReadContext& ctx, std::string_view prefix,
                                  const std::string* after, size_t limit);

// Deletes `key` and, when recursive, every key under `key/`. Returns an LMDB
// return code (a write txn must end on failure, so the caller decides how to
// report it) and sets `existed` when anything was deleted.
int RemoveEntries(const ReadContext& ctx, std::string_view key, bool recursive, bool* existed);

// JS glue shared by Store (its reusable read txn), snapshots and write txns.
// Every read method's arguments are parsed (and so validated) first, before
// the caller takes a read txn; then the read runs on the caller's txn.
enum class ReadOp {
  Read, ReadString, ReadInto, Type, Exists, Resolve, List, Keys, ReadLink,
  // whole-group reads (message_read.h)
  ReadMessage, Entries, KeyEntries, ReadMany
};

struct ReadArgs {
  Key key;                  // path: every op but keys()
  std::string prefix;       // keys()
  bool follow = true;       // type()
  std::string after;        // list(), keys()
  bool hasAfter = false;
  size_t limit = std::numeric_limits<size_t>::max();
  Napi::Uint8Array target;  // readInto()
  double depth = 0;         // readMessage(): levels read
  bool followLinks = false; // readMessage(): links inside the group followed
  bool values = true;       // entries(), keyEntries(): copy the values
  std::vector<Key> paths;   // readMany()
  const std::string* afterOrNull() const { return hasAfter ? &after : nullptr; }
};

// read(path), readString(path), readInto(path, target), type(path, follow),
// exists(path), resolve(path), list(path, after?, limit?),
// keys(prefix, after?, limit?), readLink(path), and the whole-group reads of
// message_read.h: readMessage(path, depth, follow),
// entries(path, after?, limit?, values), keyEntries(prefix, after?, limit?,
// values), readMany(paths). Throws TypeError /
// InvalidPathError / KeyTooLongError for a bad argument.
ReadArgs ParseReadArgs(const Napi::CallbackInfo& info, ReadOp op);
// The (after?, limit?) paging arguments at info[1], info[2].
void ReadPaging(const Napi::CallbackInfo& info, ReadArgs& a);
Napi::Value RunRead(const ReadContext& ctx, ReadOp op, const ReadArgs& args);

}  // namespace lmdbtxn
