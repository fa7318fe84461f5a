// Whole-group reads in one native call from one view (issue #17):
// readMessage, entries, keyEntries (iterate({ prefix })) and readMany. They
// run on the caller's txn (store read txn, write txn, snapshot, group view)
// and hand JS one fresh ArrayBuffer holding every value of the call (never
// the map, never a shared pool), plus a layout that lib/bulk-read.ts decodes:
// u32 words [nWords, stringsLen, records...] then the strings' bytes, in the
// thread's read buffer when it fits (else a second ArrayBuffer).
#pragma once
#include <napi.h>

#include "entries.h"

namespace lmdbtxn {

inline bool IsBulkRead(ReadOp op) {
  return op == ReadOp::ReadMessage || op == ReadOp::Entries || op == ReadOp::KeyEntries ||
         op == ReadOp::ReadMany;
}

// Validates every argument (TypeError / RangeError / InvalidPathError /
// KeyTooLongError) before the caller takes a txn.
void ParseBulkArgs(const Napi::CallbackInfo& info, ReadOp op, ReadArgs& a);

// readMessage → undefined when the path resolves to nothing; InvalidPathError
// when it is not a group. Otherwise the values ArrayBuffer, or
// [values, layout] when the layout outgrew the read buffer.
Napi::Value RunBulkRead(const ReadContext& ctx, ReadOp op, const ReadArgs& a);

}  // namespace lmdbtxn
