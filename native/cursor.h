// ReadCursor: a cursor over a view's data database (ReadContext), for the
// scans of entries.cc and message_read.cc. RAII, so a throw between open and
// close cannot leak it; every LMDB error but MDB_NOTFOUND throws LmdbError.
#pragma once
#include <lmdb.h>
#include <napi.h>

#include <string_view>

#include "entries.h"
#include "errors.h"

namespace lmdbtxn {

class ReadCursor {
 public:
  explicit ReadCursor(const ReadContext& ctx) : env_(ctx.env) {
    Check(env_, mdb_cursor_open(ctx.txn, ctx.dbi, &cursor_), "mdb_cursor_open");
  }
  ~ReadCursor() { mdb_cursor_close(cursor_); }
  ReadCursor(const ReadCursor&) = delete;
  ReadCursor& operator=(const ReadCursor&) = delete;

  // First key >= `key`; false at the end of the database.
  bool Seek(std::string_view key, MDB_val* k, MDB_val* v) {
    *k = MDB_val{key.size(), const_cast<char*>(key.data())};
    return Found(mdb_cursor_get(cursor_, k, v, MDB_SET_RANGE));
  }
  // Exactly `key`; false when absent.
  bool Exact(std::string_view key, MDB_val* k, MDB_val* v) {
    *k = MDB_val{key.size(), const_cast<char*>(key.data())};
    return Found(mdb_cursor_get(cursor_, k, v, MDB_SET_KEY));
  }
  bool First(MDB_val* k, MDB_val* v) { return Found(mdb_cursor_get(cursor_, k, v, MDB_FIRST)); }
  bool Next(MDB_val* k, MDB_val* v) { return Found(mdb_cursor_get(cursor_, k, v, MDB_NEXT)); }

 private:
  bool Found(int rc) {
    if (rc == MDB_NOTFOUND) return false;
    Check(env_, rc, "mdb_cursor_get");
    return true;
  }

  Napi::Env env_;
  MDB_cursor* cursor_ = nullptr;
};

}  // namespace lmdbtxn
