// The change log (SPEC §11.1): the ops a transaction committed, recorded as
// they are made and written as one record into the `changes` database in the
// same LMDB transaction, just before its commit. The record layout is
// documented in docs/format.md; lib/changes.ts decodes it and the wire
// format of lib/sync/ carries it unchanged.
#pragma once
#include <lmdb.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace lmdbtxn {

enum ChangeOpKind : uint8_t {
  kOpWrite = 1,
  kOpGroup = 2,
  kOpLink = 3,
  kOpRemove = 4,
  kOpRemoveRecursive = 5,
};

constexpr uint8_t kChangeRecordVersion = 1;

// Ops in call order, already encoded. A savepoint remembers a Mark and
// truncates back to it when it is undone.
class ChangeOps {
 public:
  struct Mark {
    size_t bytes = 0;
    uint32_t count = 0;
  };

  void Write(std::string_view path, const void* value, size_t size);
  void Group(std::string_view path);
  void Link(std::string_view path, std::string_view target);
  void Remove(std::string_view path, bool recursive);

  Mark mark() const { return Mark{bytes_.size(), count_}; }
  void Truncate(Mark m) {
    bytes_.resize(m.bytes);
    count_ = m.count;
  }
  void Clear() { Truncate(Mark{}); }
  bool empty() const { return count_ == 0; }
  uint32_t count() const { return count_; }
  const std::string& bytes() const { return bytes_; }

 private:
  void Head(uint8_t kind, std::string_view path);
  void Blob(const void* data, size_t size);
  std::string bytes_;
  uint32_t count_ = 0;
};

// Seq of the last record (or the trim floor when the log is empty), read in
// `txn`; 0 when nothing was ever logged. `metaDbi` holds the floor.
int LastChangeSeq(MDB_txn* txn, MDB_dbi changesDbi, MDB_dbi metaDbi, uint64_t* seq);

// Appends `ops` as the next record (seq = last + 1) in `txn`, which must be a
// write txn (so LMDB's writer lock makes the seq gap-free across processes).
// `timeMs` is wall-clock milliseconds. Returns an LMDB code.
int AppendChangeRecord(MDB_txn* txn, MDB_dbi changesDbi, MDB_dbi metaDbi, const ChangeOps& ops,
                       double timeMs, uint64_t* seqOut);

// The same for ops already encoded (a group-commit callback's slice of the
// batch buffer, native/group_ops.h: the same op layout). The ops are
// counted, and checked to be whole; MDB_CORRUPTED when they are not.
int AppendChangeRecord(MDB_txn* txn, MDB_dbi changesDbi, MDB_dbi metaDbi, const uint8_t* ops,
                       size_t size, double timeMs, uint64_t* seqOut);

// Deletes records with seq <= upTo and raises the trim floor so seqs never
// restart. Returns an LMDB code; `removed` counts deleted records.
int TrimChanges(MDB_txn* txn, MDB_dbi changesDbi, MDB_dbi metaDbi, uint64_t upTo, uint64_t* removed);

// 8-byte big-endian seq keys sort in seq order under LMDB's bytewise compare.
void EncodeSeq(uint64_t seq, unsigned char out[8]);
uint64_t DecodeSeq(const void* data);

double NowMs();

}  // namespace lmdbtxn
