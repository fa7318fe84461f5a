# LMDB is linked statically from the system archive (SPEC §8). Debian's
# liblmdb.a is not PIC: scripts/lmdb-object.sh renames mdb.o's `stderr`
# reference to a hidden symbol and merges mdb.o + midl.o with `ld -r`.
# The version script keeps every LMDB symbol local; exported and lazily
# bound, they crash at the first commit.
{
  "targets": [
    {
      "target_name": "lmdb_txn",
      "sources": [
        "native/addon.cc",
        "native/errors.cc",
        "native/path.cc",
        "native/env_registry.cc",
        "native/entries.cc",
        "native/message_read.cc",
        "native/store.cc",
        "native/txn.cc",
        "native/change_log.cc",
        "native/group_writer.cc",
        "native/raw_env.cc",
        "native/group_ops.cc",
        "native/backup.cc",
        "native/read_start.cc",
        "native/lmdb_stderr.c"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
        "NODE_ADDON_API_CPP_EXCEPTIONS_ALL",
        "LMDB_TXN_SOURCE_HASH=\"<!(node scripts/source-hash.js)\""
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags": ["-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-fvisibility=hidden"],
      "ldflags": [
        "-Wl,--version-script=<(module_root_dir)/native/exports.map",
        "-Wl,-z,text",
        "-Wl,-z,now",
        "-static-libstdc++",
        "-static-libgcc"
      ],
      "actions": [
        {
          "action_name": "lmdb_object",
          "inputs": ["scripts/lmdb-object.sh", "<!(cc -print-file-name=liblmdb.a)"],
          "outputs": ["<(INTERMEDIATE_DIR)/lmdb_static.o"],
          "action": ["sh", "scripts/lmdb-object.sh", "<!(cc -print-file-name=liblmdb.a)", "<@(_outputs)"],
          "process_outputs_as_sources": 1
        }
      ]
    }
  ]
}
