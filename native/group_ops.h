// The op buffer of store.transaction() (group commit): the JS side encodes a
// callback's writes here instead of calling into LMDB, and the writer thread
// (or, for a callback that reads, the JS thread) applies them to a batch txn.
//
// Encoding (little-endian), one op after another; the same layout as a
// change-log record's ops (SPEC §11.1), so a callback's slice of the buffer
// is its record:
//   u8 kind (ChangeOpKind, change_log.h)
//   u32 path length, path bytes (a normalised key)
//   write: u32 value length, value bytes; link: u32 target length, target
#pragma once
#include <lmdb.h>

#include <cstddef>
#include <cstdint>

namespace lmdbtxn {

// Applies the ops in [from, to) of `ops` to `txn`. Returns an LMDB code
// (MDB_CORRUPTED for a malformed buffer: nothing here trusts the encoder).
int ApplyGroupOps(MDB_txn* txn, MDB_dbi dbi, const uint8_t* ops, size_t from, size_t to);

}  // namespace lmdbtxn
