#include "change_log.h"

#include <chrono>
#include <cstring>

namespace lmdbtxn {

namespace {
constexpr const char* kFloorKey = "change-log-floor";

void PutU32(std::string& s, uint32_t v) {
  unsigned char b[4] = {static_cast<unsigned char>(v), static_cast<unsigned char>(v >> 8),
                        static_cast<unsigned char>(v >> 16), static_cast<unsigned char>(v >> 24)};
  s.append(reinterpret_cast<const char*>(b), 4);
}
}  // namespace

void EncodeSeq(uint64_t seq, unsigned char out[8]) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<unsigned char>(seq);
    seq >>= 8;
  }
}

uint64_t DecodeSeq(const void* data) {
  const unsigned char* b = static_cast<const unsigned char*>(data);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | b[i];
  return v;
}

double NowMs() {
  using namespace std::chrono;
  return static_cast<double>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

void ChangeOps::Head(uint8_t kind, std::string_view path) {
  bytes_.push_back(static_cast<char>(kind));
  Blob(path.data(), path.size());
  count_++;
}

void ChangeOps::Blob(const void* data, size_t size) {
  PutU32(bytes_, static_cast<uint32_t>(size));
  if (size) bytes_.append(static_cast<const char*>(data), size);
}

void ChangeOps::Write(std::string_view path, const void* value, size_t size) {
  Head(kOpWrite, path);
  Blob(value, size);
}
void ChangeOps::Group(std::string_view path) { Head(kOpGroup, path); }
void ChangeOps::Link(std::string_view path, std::string_view target) {
  Head(kOpLink, path);
  Blob(target.data(), target.size());
}
void ChangeOps::Remove(std::string_view path, bool recursive) {
  Head(recursive ? kOpRemoveRecursive : kOpRemove, path);
}


namespace {
int ReadFloor(MDB_txn* txn, MDB_dbi metaDbi, uint64_t* floor) {
  *floor = 0;
  MDB_val fk{std::strlen(kFloorKey), const_cast<char*>(kFloorKey)}, fv;
  int rc = mdb_get(txn, metaDbi, &fk, &fv);
  if (rc == MDB_NOTFOUND) return MDB_SUCCESS;
  if (rc != MDB_SUCCESS) return rc;
  if (fv.mv_size != 8) return MDB_CORRUPTED;
  *floor = DecodeSeq(fv.mv_data);
  return MDB_SUCCESS;
}
}  // namespace

int LastChangeSeq(MDB_txn* txn, MDB_dbi changesDbi, MDB_dbi metaDbi, uint64_t* seq) {
  int rc = ReadFloor(txn, metaDbi, seq);
  if (rc != MDB_SUCCESS) return rc;
  MDB_cursor* cur = nullptr;
  rc = mdb_cursor_open(txn, changesDbi, &cur);
  if (rc != MDB_SUCCESS) return rc;
  MDB_val k, v;
  rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
  mdb_cursor_close(cur);
  if (rc == MDB_NOTFOUND) return MDB_SUCCESS;
  if (rc != MDB_SUCCESS) return rc;
  if (k.mv_size != 8) return MDB_CORRUPTED;
  uint64_t last = DecodeSeq(k.mv_data);
  if (last > *seq) *seq = last;
  return MDB_SUCCESS;
}

namespace {
// Record value: u8 version, f64 LE time, u32 LE op count, then the ops.
int PutRecord(MDB_txn* txn, MDB_dbi changesDbi, MDB_dbi metaDbi, const void* ops, size_t size,
              uint32_t count, double timeMs, uint64_t* seqOut) {
  uint64_t last = 0;
  int rc = LastChangeSeq(txn, changesDbi, metaDbi, &last);
  if (rc != MDB_SUCCESS) return rc;
  unsigned char key[8];
  EncodeSeq(last + 1, key);
  MDB_val k{8, key};
  const size_t head = 1 + 8 + 4;
  MDB_val v{head + size, nullptr};
  rc = mdb_put(txn, changesDbi, &k, &v, MDB_RESERVE | MDB_APPEND);
  if (rc != MDB_SUCCESS) return rc;
  // Filled before any other LMDB call, as MDB_RESERVE requires.
  unsigned char* dst = static_cast<unsigned char*>(v.mv_data);
  dst[0] = kChangeRecordVersion;
  std::memcpy(dst + 1, &timeMs, 8);  // little-endian hosts only (binding.gyp builds for x64/arm64)
  for (int i = 0; i < 4; ++i) dst[9 + i] = static_cast<unsigned char>(count >> (8 * i));
  if (size) std::memcpy(dst + head, ops, size);
  *seqOut = last + 1;
  return MDB_SUCCESS;
}

uint32_t ReadU32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}
}  // namespace

int AppendChangeRecord(MDB_txn* txn, MDB_dbi changesDbi, MDB_dbi metaDbi, const ChangeOps& ops,
                       double timeMs, uint64_t* seqOut) {
  return PutRecord(txn, changesDbi, metaDbi, ops.bytes().data(), ops.bytes().size(), ops.count(), timeMs, seqOut);
}

int AppendChangeRecord(MDB_txn* txn, MDB_dbi changesDbi, MDB_dbi metaDbi, const uint8_t* ops,
                       size_t size, double timeMs, uint64_t* seqOut) {
  uint32_t count = 0;
  size_t at = 0;
  while (at < size) {
    uint8_t kind = ops[at++];
    if (kind < kOpWrite || kind > kOpRemoveRecursive || size - at < 4) return MDB_CORRUPTED;
    size_t len = ReadU32(ops + at);
    at += 4;
    if (size - at < len) return MDB_CORRUPTED;
    at += len;
    if (kind == kOpWrite || kind == kOpLink) {
      if (size - at < 4) return MDB_CORRUPTED;
      len = ReadU32(ops + at);
      at += 4;
      if (size - at < len) return MDB_CORRUPTED;
      at += len;
    }
    count++;
  }
  return PutRecord(txn, changesDbi, metaDbi, ops, size, count, timeMs, seqOut);
}

int TrimChanges(MDB_txn* txn, MDB_dbi changesDbi, MDB_dbi metaDbi, uint64_t upTo, uint64_t* removed) {
  *removed = 0;
  uint64_t last = 0;
  int rc = LastChangeSeq(txn, changesDbi, metaDbi, &last);
  if (rc != MDB_SUCCESS) return rc;
  if (upTo > last) upTo = last;
  uint64_t floor = 0;
  rc = ReadFloor(txn, metaDbi, &floor);
  if (rc != MDB_SUCCESS) return rc;
  if (upTo <= floor) upTo = floor;
  MDB_cursor* cur = nullptr;
  rc = mdb_cursor_open(txn, changesDbi, &cur);
  if (rc != MDB_SUCCESS) return rc;
  MDB_val k, v;
  rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  while (rc == MDB_SUCCESS && k.mv_size == 8 && DecodeSeq(k.mv_data) <= upTo) {
    rc = mdb_cursor_del(cur, 0);
    if (rc != MDB_SUCCESS) break;
    (*removed)++;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);  // we delete from the front
  }
  mdb_cursor_close(cur);
  if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return rc;
  // The floor keeps seq = last + 1 past records that are gone.
  unsigned char fb[8];
  EncodeSeq(upTo, fb);
  MDB_val fk{std::strlen(kFloorKey), const_cast<char*>(kFloorKey)}, fv{8, fb};
  return mdb_put(txn, metaDbi, &fk, &fv, 0);
}

}  // namespace lmdbtxn
