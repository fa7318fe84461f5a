// The CLI's raw access to an LMDB environment, below the lmdb-txn model: what
// LMDB's own mdb_stat, mdb_dump and mdb_load do (lmdb-txn check --deep, dump
// and load --format mdb). Each call opens its own MDB_env for the one
// operation and closes it: it must not run in a process that has the same
// directory open through open() (LMDB forbids two environments of one file
// in a process); the CLI runs one of these before or instead of open().
#include "raw_env.h"

#include <lmdb.h>
#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <vector>

#include "errors.h"
#include "read_start.h"

namespace lmdbtxn {

namespace {

constexpr unsigned kMaxDbs = 256;
constexpr MDB_dbi kFreeDbi = 0;  // LMDB's free-page list (mdb_stat opens it the same way)

class RawEnv {
 public:
  RawEnv(Napi::Env env, const std::string& path, bool readOnly, size_t mapSize) {
    Check(env, mdb_env_create(&env_), "mdb_env_create");
    Check(env, mdb_env_set_maxdbs(env_, kMaxDbs), "mdb_env_set_maxdbs");
    if (mapSize > 0) Check(env, mdb_env_set_mapsize(env_, mapSize), "mdb_env_set_mapsize");
    // MDB_NOTLS: settling a read txn starts a second one on the same thread.
    Check(env, mdb_env_open(env_, path.c_str(), (readOnly ? MDB_RDONLY : 0) | MDB_NOTLS, 0644), "mdb_env_open");
    // A data file shorter than its meta page claims would SIGBUS at the first
    // read through the map (as in EnvEntry): refuse it as corrupted.
    MDB_envinfo info;
    MDB_stat st;
    mdb_filehandle_t fd;
    struct stat fileStat;
    Check(env, mdb_env_info(env_, &info), "mdb_env_info");
    Check(env, mdb_env_stat(env_, &st), "mdb_env_stat");
    Check(env, mdb_env_get_fd(env_, &fd), "mdb_env_get_fd");
    uint64_t need = (static_cast<uint64_t>(info.me_last_pgno) + 1) * st.ms_psize;
    if (fstat(fd, &fileStat) == 0 && static_cast<uint64_t>(fileStat.st_size) < need) {
      ThrowLmdb(env, MDB_CORRUPTED, "data.mdb has " + std::to_string(fileStat.st_size) + " bytes but its meta page needs " +
                                        std::to_string(need) + " (truncated file)");
    }
  }
  ~RawEnv() { mdb_env_close(env_); }  // also after a failed mdb_env_open
  RawEnv(const RawEnv&) = delete;
  RawEnv& operator=(const RawEnv&) = delete;
  MDB_env* get() const { return env_; }

 private:
  MDB_env* env_ = nullptr;
};

class RawTxn {
 public:
  RawTxn(Napi::Env env, MDB_env* e, bool readOnly) {
    Check(env, mdb_txn_begin(e, nullptr, readOnly ? MDB_RDONLY : 0, &txn_), "mdb_txn_begin");
    if (!readOnly) return;
    // a dump or check may run beside a writer process: see read_start.cc
    int rc = SettleReadTxn(e, txn_);
    if (rc != MDB_SUCCESS) {
      mdb_txn_abort(txn_);
      txn_ = nullptr;
      Check(env, rc, "mdb_txn_renew");
    }
  }
  ~RawTxn() { if (txn_ != nullptr) mdb_txn_abort(txn_); }
  RawTxn(const RawTxn&) = delete;
  RawTxn& operator=(const RawTxn&) = delete;
  MDB_txn* get() const { return txn_; }
  void Reset() { mdb_txn_reset(txn_); }  // read-only: releases the snapshot, keeps the slot
  void Commit(Napi::Env env) {
    MDB_txn* t = txn_;
    txn_ = nullptr;  // mdb_txn_commit frees it, failed or not
    Check(env, mdb_txn_commit(t), "mdb_txn_commit");
  }

 private:
  MDB_txn* txn_ = nullptr;
};

class RawCursor {
 public:
  RawCursor(Napi::Env env, MDB_txn* txn, MDB_dbi dbi) { Check(env, mdb_cursor_open(txn, dbi, &c_), "mdb_cursor_open"); }
  ~RawCursor() { mdb_cursor_close(c_); }
  RawCursor(const RawCursor&) = delete;
  RawCursor& operator=(const RawCursor&) = delete;
  // false at the end; throws on an LMDB error (e.g. a damaged page)
  bool Next(Napi::Env env, MDB_val* k, MDB_val* v) {
    int rc = mdb_cursor_get(c_, k, v, MDB_NEXT);
    if (rc == MDB_NOTFOUND) return false;
    Check(env, rc, "mdb_cursor_get");
    return true;
  }

 private:
  MDB_cursor* c_ = nullptr;
};

#define RAW_REQUIRE(cond, message) \
  if (!(cond)) throw Napi::TypeError::New(info.Env(), message)

std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsString()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

// Named databases: the main database's keys that open as one (mdb_dump -a).
std::vector<std::string> NamedDbs(Napi::Env env, MDB_txn* txn) {
  MDB_dbi main;
  Check(env, mdb_dbi_open(txn, nullptr, 0, &main), "mdb_dbi_open");
  std::vector<std::string> names;
  RawCursor c(env, txn, main);
  MDB_val k, v;
  while (c.Next(env, &k, &v)) {
    std::string name(static_cast<const char*>(k.mv_data), k.mv_size);
    if (name.find('\0') != std::string::npos) continue;
    MDB_dbi dbi;
    if (mdb_dbi_open(txn, name.c_str(), 0, &dbi) == MDB_SUCCESS) names.push_back(name);
  }
  return names;
}

Napi::Object DbStat(Napi::Env env, MDB_txn* txn, MDB_dbi dbi, const std::string* name) {
  MDB_stat st;
  Check(env, mdb_stat(txn, dbi, &st), "mdb_stat");
  unsigned flags = 0;  // mdb_dbi_flags refuses the free list (not a user database)
  if (dbi != kFreeDbi) Check(env, mdb_dbi_flags(txn, dbi, &flags), "mdb_dbi_flags");
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", name == nullptr ? env.Null() : Napi::String::New(env, *name));
  o.Set("flags", Napi::Number::New(env, flags));
  o.Set("depth", Napi::Number::New(env, st.ms_depth));
  o.Set("branchPages", Napi::Number::New(env, static_cast<double>(st.ms_branch_pages)));
  o.Set("leafPages", Napi::Number::New(env, static_cast<double>(st.ms_leaf_pages)));
  o.Set("overflowPages", Napi::Number::New(env, static_cast<double>(st.ms_overflow_pages)));
  o.Set("entries", Napi::Number::New(env, static_cast<double>(st.ms_entries)));
  return o;
}

// mdb_reader_list's lines: "<pid> <thread> <txnid>", txnid "-" for a slot
// that holds no snapshot now.
int CountReaderLine(const char* line, void* ctx) {
  auto* counts = static_cast<std::pair<double, double>*>(ctx);
  std::string l(line);
  while (!l.empty() && (l.back() == '\n' || l.back() == ' ')) l.pop_back();
  if (l.find("pid") != std::string::npos || l.find("(no active readers)") != std::string::npos) return 0;
  counts->first++;
  if (l.empty() || l.back() != '-') counts->second++;
  return 0;
}

// rawStat(dir) → what `mdb_stat -efar` prints: environment info, the free list
// (pages listed free) and every tree's page counts, from one read txn.
Napi::Value RawStat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "dir");
  RawEnv e(env, path, true, 0);
  RawTxn txn(env, e.get(), true);
  MDB_envinfo ei;
  Check(env, mdb_env_info(e.get(), &ei), "mdb_env_info");
  MDB_stat est;
  Check(env, mdb_env_stat(e.get(), &est), "mdb_env_stat");

  double freePages = 0;
  {
    RawCursor c(env, txn.get(), kFreeDbi);
    MDB_val k, v;
    while (c.Next(env, &k, &v)) {
      if (v.mv_size < sizeof(size_t)) Throw(env, ErrorKind::Format, "free list record shorter than its count");
      size_t n = *static_cast<const size_t*>(v.mv_data);  // an IDL: count, then page numbers
      if ((n + 1) * sizeof(size_t) > v.mv_size) Throw(env, ErrorKind::Format, "free list record shorter than its count");
      freePages += static_cast<double>(n);
    }
  }
  Napi::Array dbs = Napi::Array::New(env);
  uint32_t i = 0;
  dbs.Set(i++, DbStat(env, txn.get(), kFreeDbi, nullptr));
  dbs.Get(0u).As<Napi::Object>().Set("name", Napi::String::New(env, "(free list)"));
  MDB_dbi main;
  Check(env, mdb_dbi_open(txn.get(), nullptr, 0, &main), "mdb_dbi_open");
  dbs.Set(i++, DbStat(env, txn.get(), main, nullptr));
  for (const std::string& name : NamedDbs(env, txn.get())) {
    MDB_dbi dbi;
    Check(env, mdb_dbi_open(txn.get(), name.c_str(), 0, &dbi), "mdb_dbi_open");
    dbs.Set(i++, DbStat(env, txn.get(), dbi, &name));
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("pageSize", Napi::Number::New(env, est.ms_psize));
  o.Set("mapSize", Napi::Number::New(env, static_cast<double>(ei.me_mapsize)));
  o.Set("pagesUsed", Napi::Number::New(env, static_cast<double>(ei.me_last_pgno + 1)));
  o.Set("lastTxnId", Napi::Number::New(env, static_cast<double>(ei.me_last_txnid)));
  o.Set("maxReaders", Napi::Number::New(env, ei.me_maxreaders));
  o.Set("readers", Napi::Number::New(env, ei.me_numreaders));
  o.Set("freePages", Napi::Number::New(env, freePages));
  std::pair<double, double> readers{0, 0};
  txn.Reset();  // our own slot must not count as a snapshot holder
  Check(env, mdb_reader_list(e.get(), CountReaderLine, &readers), "mdb_reader_list");
  o.Set("readerSlotsInUse", Napi::Number::New(env, readers.first - 1));
  o.Set("readersHoldingSnapshot", Napi::Number::New(env, readers.second));
  o.Set("dbs", dbs);
  return o;
}

// rawDump(dir, names | null) → [{ name, flags, pairs: [k0, v0, k1, v1, …] }]
// from one read txn: null = the main database only (mdb_dump), a list = those
// named databases, [] = every named database (mdb_dump -a).
Napi::Value RawDump(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "dir");
  RAW_REQUIRE(info[1].IsNull() || info[1].IsArray(), "names must be null or an array");
  std::vector<std::string> wanted;
  bool mainOnly = info[1].IsNull();
  if (!mainOnly) {
    Napi::Array a = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      RAW_REQUIRE(a.Get(i).IsString(), "names must be strings");
      wanted.push_back(a.Get(i).As<Napi::String>().Utf8Value());
    }
  }
  RawEnv e(env, path, true, 0);
  RawTxn txn(env, e.get(), true);
  if (!mainOnly && wanted.empty()) wanted = NamedDbs(env, txn.get());
  Napi::Array out = Napi::Array::New(env);
  auto dumpOne = [&](const std::string* name, uint32_t slot) {
    MDB_dbi dbi;
    int rc = mdb_dbi_open(txn.get(), name == nullptr ? nullptr : name->c_str(), 0, &dbi);
    if (rc == MDB_NOTFOUND) Throw(env, ErrorKind::Lmdb, "no database named " + *name);
    Check(env, rc, "mdb_dbi_open");
    unsigned flags = 0;
    Check(env, mdb_dbi_flags(txn.get(), dbi, &flags), "mdb_dbi_flags");
    Napi::Array pairs = Napi::Array::New(env);
    RawCursor c(env, txn.get(), dbi);
    MDB_val k, v;
    uint32_t n = 0;
    while (c.Next(env, &k, &v)) {
      pairs.Set(n++, Napi::Buffer<char>::Copy(env, static_cast<const char*>(k.mv_data), k.mv_size));
      pairs.Set(n++, Napi::Buffer<char>::Copy(env, static_cast<const char*>(v.mv_data), v.mv_size));
    }
    Napi::Object db = Napi::Object::New(env);
    db.Set("name", name == nullptr ? env.Null() : Napi::String::New(env, *name));
    db.Set("flags", Napi::Number::New(env, flags));
    db.Set("pairs", pairs);
    out.Set(slot, db);
  };
  if (mainOnly) {
    dumpOne(nullptr, 0);
  } else {
    for (uint32_t i = 0; i < wanted.size(); i++) dumpOne(&wanted[i], i);
  }
  return out;
}

// rawLoad(dir, mapSize, [{ name | null, flags, pairs }]) → entries written, in
// ONE write txn (all or nothing), like mdb_load: databases are created with
// the given flags, existing keys are overwritten.
Napi::Value RawLoad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "dir");
  RAW_REQUIRE(info[1].IsNumber(), "mapSize must be a number");
  RAW_REQUIRE(info[2].IsArray(), "databases must be an array");
  double mapSize = info[1].As<Napi::Number>().DoubleValue();
  RAW_REQUIRE(mapSize >= 0 && mapSize <= 9007199254740991.0, "mapSize out of range");
  struct Db {
    bool main;
    std::string name;
    unsigned flags;
    Napi::Array pairs;
  };
  std::vector<Db> dbs;
  Napi::Array a = info[2].As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    RAW_REQUIRE(a.Get(i).IsObject(), "databases must be objects");
    Napi::Object o = a.Get(i).As<Napi::Object>();
    Napi::Value name = o.Get("name");
    RAW_REQUIRE(name.IsNull() || name.IsString(), "name must be null or a string");
    RAW_REQUIRE(o.Get("flags").IsNumber(), "flags must be a number");
    RAW_REQUIRE(o.Get("pairs").IsArray(), "pairs must be an array");
    Napi::Array pairs = o.Get("pairs").As<Napi::Array>();
    RAW_REQUIRE(pairs.Length() % 2 == 0, "pairs must hold key, value, key, value, …");
    for (uint32_t j = 0; j < pairs.Length(); j++) RAW_REQUIRE(pairs.Get(j).IsBuffer(), "keys and values must be Buffers");
    dbs.push_back({name.IsNull(), name.IsNull() ? "" : name.As<Napi::String>().Utf8Value(),
                   o.Get("flags").As<Napi::Number>().Uint32Value(), pairs});
  }
  // mdb_dump's flags are persistent database flags; MDB_CREATE is added here
  const unsigned allowed = MDB_REVERSEKEY | MDB_DUPSORT | MDB_INTEGERKEY | MDB_DUPFIXED | MDB_INTEGERDUP | MDB_REVERSEDUP;
  for (const Db& db : dbs) RAW_REQUIRE((db.flags & ~allowed) == 0, "unsupported database flags");

  RawEnv e(env, path, false, static_cast<size_t>(mapSize));
  RawTxn txn(env, e.get(), false);
  double written = 0;
  for (const Db& db : dbs) {
    MDB_dbi dbi;
    Check(env, mdb_dbi_open(txn.get(), db.main ? nullptr : db.name.c_str(), db.flags | (db.main ? 0 : MDB_CREATE), &dbi),
          "mdb_dbi_open");
    for (uint32_t j = 0; j < db.pairs.Length(); j += 2) {
      Napi::Buffer<char> kb = db.pairs.Get(j).As<Napi::Buffer<char>>();
      Napi::Buffer<char> vb = db.pairs.Get(j + 1).As<Napi::Buffer<char>>();
      MDB_val k{kb.Length(), kb.Data()};
      MDB_val v{vb.Length(), vb.Data()};
      Check(env, mdb_put(txn.get(), dbi, &k, &v, 0), "mdb_put");
      written++;
    }
  }
  txn.Commit(env);
  return Napi::Number::New(env, written);
}

}  // namespace

Napi::Object RawEnvFunctions(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("stat", Napi::Function::New<RawStat>(env, "rawStat"));
  o.Set("dump", Napi::Function::New<RawDump>(env, "rawDump"));
  o.Set("load", Napi::Function::New<RawLoad>(env, "rawLoad"));
  return o;
}

}  // namespace lmdbtxn
