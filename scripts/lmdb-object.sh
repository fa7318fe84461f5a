#!/bin/sh
# Usage: lmdb-object.sh <liblmdb.a> <out.o>
# Extracts LMDB's two objects from the (non-PIC) system archive, renames the
# one symbol that stops them linking into a shared object (`stderr`, used
# with a PC32 relocation) to our hidden `lmdb_txn_stderr`, and merges them
# into one relocatable object so gyp has a single output to track.
set -eu
archive="$1"
out="$2"
if [ ! -f "$archive" ]; then
  echo "lmdb-txn: $archive not found; install LMDB (Debian/Ubuntu: apt-get install liblmdb-dev)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && ar x "$archive" mdb.o midl.o)
objcopy --redefine-sym stderr=lmdb_txn_stderr "$work/mdb.o"
mkdir -p "$(dirname "$out")"
ld -r "$work/mdb.o" "$work/midl.o" -o "$out"
