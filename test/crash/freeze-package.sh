#!/bin/sh
# Copies the built package (dist/, the addon, package.json, node-gyp-build)
# to a temp dir and prints it, for long crash runs that must not be disturbed
# by a rebuild in the working tree:
#   LMDB_TXN_CRASH_PACKAGE=$(test/crash/freeze-package.sh) LMDB_TXN_CRASH_KILLS=5000 npm run test:crash
set -e
cd "$(dirname "$0")/../.."
out=$(mktemp -d "${TMPDIR:-/tmp}/lmdb-txn-frozen-XXXXXX")
cp package.json "$out/"
cp -r dist "$out/"
[ -d build/Release ] && mkdir -p "$out/build" && cp -r build/Release "$out/build/"
[ -d prebuilds ] && cp -r prebuilds "$out/"
mkdir -p "$out/node_modules"
cp -r node_modules/node-gyp-build "$out/node_modules/"
node -e "const l = require(process.argv[1]); if (typeof l.open !== 'function') process.exit(1)" "$out"
echo "$out"
