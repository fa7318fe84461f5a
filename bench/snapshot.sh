#!/bin/sh
# Build one commit of lmdb-txn in its own directory, away from a working tree
# that may be mid-edit or mid-rebuild, then benchmark exactly that build:
#   sh bench/snapshot.sh [commit] [dir]     (defaults: HEAD, /tmp/lmdb-txn-snapshot)
#   LMDB_TXN_MODULE=/tmp/lmdb-txn-snapshot npm run bench
set -eu
root=$(git rev-parse --show-toplevel)
commit=$(git -C "$root" rev-parse --short "${1:-HEAD}")
dir=${2:-/tmp/lmdb-txn-snapshot}
rm -rf "$dir"
mkdir -p "$dir"
git -C "$root" archive "$commit" | tar -x -C "$dir"
ln -s "$root/node_modules" "$dir/node_modules"
cd "$dir"
npm_config_nodedir=${npm_config_nodedir:-/usr} npx node-gyp rebuild >build.log 2>&1 || { tail -20 build.log; exit 1; }
npx tsc -p tsconfig.json
[ -f scripts/write-esm-entry.js ] && node scripts/write-esm-entry.js
echo "$commit" > .snapshot-commit
echo "built lmdb-txn $commit in $dir"
