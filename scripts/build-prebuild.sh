#!/usr/bin/env bash
# Rebuilds prebuilds/linux-x64/lmdb-txn.glibc.node the same way every time
# (and, for machines without a C compiler, the crash suite's LD_PRELOAD shim,
# test/crash/prebuilt/, and the read-start stress, test/native/prebuilt/):
# in a Debian 11 (bullseye, glibc 2.31) chroot with bullseye's own g++ and
# liblmdb-dev, so the binary needs nothing newer than GLIBC_2.31. Then checks
# it (scripts/elf-check.js) and loads it under bullseye with this machine's
# Node, writing and reading back a message through dist/.
#
#   sudo scripts/build-prebuild.sh        (root: debootstrap + chroot)
#
# Environment: LMDB_TXN_CHROOT (default /work/chroots/bullseye; outside the
# repo), LMDB_TXN_MIRROR (default: the Debian mirror apt uses here),
# npm_config_nodedir (Node headers, default /usr). Safe to run repeatedly and
# concurrently: one flock per chroot serialises runs.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
chroot_dir=${LMDB_TXN_CHROOT:-/work/chroots/bullseye}
nodedir=${npm_config_nodedir:-/usr}
suite=bullseye
packages=g++,make,python3,liblmdb-dev
ready="$chroot_dir/.lmdb-txn-chroot-ready"
stage=/build/lmdb-txn                       # inside the chroot
out="$root/prebuilds/linux-x64/lmdb-txn.glibc.node"

say () { echo "build-prebuild: $*" >&2; }
die () { say "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mount namespace)"
for tool in debootstrap flock unshare chroot; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install debootstrap util-linux coreutils)"
done
[ -f "$nodedir/include/node/node_api.h" ] || die "no Node headers in $nodedir/include/node (set npm_config_nodedir)"
[ -d "$root/node_modules/node-gyp" ] && [ -d "$root/node_modules/prebuildify" ] || die "run npm install first"
[ -f "$root/dist/index.js" ] || die "dist/ missing: run npm run build:ts first"

mirror=${LMDB_TXN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
    grep -oE 'https?://[^ ]+/debian/?' | grep -v security | head -n1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
fi

mkdir -p "$(dirname "$chroot_dir")"
exec 9>"$chroot_dir.lock"
if ! flock -n 9; then say "waiting for $chroot_dir.lock (another build)"; flock 9; fi

# 1. the chroot, once (debootstrap into .partial, then an atomic rename)
if [ ! -f "$ready" ]; then
  [ ! -e "$chroot_dir" ] || die "$chroot_dir exists but is not a finished chroot; remove it and rerun"
  say "creating the $suite chroot in $chroot_dir from $mirror (a few minutes)"
  rm -rf "$chroot_dir.partial"
  debootstrap --variant=minbase --include="$packages" "$suite" "$chroot_dir.partial" "$mirror" >&2
  touch "$chroot_dir.partial/.lmdb-txn-chroot-ready"
  mv "$chroot_dir.partial" "$chroot_dir"
fi

# 2. this machine's Node binary (needs GLIBC_2.28) and headers, refreshed each run
install -D -m 755 "$(command -v node)" "$chroot_dir/usr/local/bin/node"
rm -rf "$chroot_dir/opt/node" && mkdir -p "$chroot_dir/opt/node/include"
cp -a "$nodedir/include/node" "$chroot_dir/opt/node/include/"

# 3. a clean stage with exactly the build inputs; node_modules is bind-mounted
rm -rf "${chroot_dir:?}$stage" && mkdir -p "$chroot_dir$stage/scripts" "$chroot_dir$stage/node_modules"
cp -a "$root/package.json" "$root/binding.gyp" "$root/native" "$root/dist" "$chroot_dir$stage/"
mkdir -p "$chroot_dir$stage/shim" && cp -a "$root/test/crash/shim.c" "$chroot_dir$stage/shim/"
mkdir -p "$chroot_dir$stage/stress" && cp -a "$root/test/native/read-start-stress.cc" "$chroot_dir$stage/stress/"
cp -a "$root/scripts/lmdb-object.sh" "$root/scripts/source-hash.js" "$root/scripts/elf-check.js" \
  "$root/scripts/prebuild-smoke.js" "$chroot_dir$stage/scripts/"

# 4. build, check and load inside the chroot. A private mount namespace: the
# mounts vanish when it exits, whatever happens.
expected_hash=$(cd "$root" && node scripts/source-hash.js)
unshare --mount --propagation private /bin/sh -eu -c '
  c=$1; stage=$2; root=$3
  mount -t proc proc "$c/proc"
  mount --bind /dev "$c/dev"
  mount --bind -o ro "$root/node_modules" "$c$stage/node_modules"
  shift 3
  exec chroot "$c" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root TMPDIR=/tmp \
    npm_config_nodedir=/opt/node /bin/sh -eu -c "$@"
' sh "$chroot_dir" "$stage" "$root" '
  cd "$1"
  echo "build-prebuild: $(g++ --version | head -n1), liblmdb-dev $(dpkg-query -W -f="\${Version}" liblmdb-dev)" >&2
  node node_modules/prebuildify/bin.js --napi --strip --tag-libc >&2
  rm -rf build
  node scripts/elf-check.js prebuilds/linux-x64/lmdb-txn.glibc.node >&2
  node scripts/prebuild-smoke.js . "$2"
  cc -shared -fPIC -O2 -Wall -Wextra -o shim/shim.so shim/shim.c -ldl
  g++ -O2 -std=c++17 -pthread -Wall -Wextra -Inative -static-libstdc++ -static-libgcc -o stress/read-start-stress \
    stress/read-start-stress.cc native/read_start.cc "$(cc -print-file-name=liblmdb.a)"
' sh "$stage" "$expected_hash"

# 5. publish: only the tagged glibc binary (an untagged one would be picked on musl)
mkdir -p "$(dirname "$out")"
rm -f "$root"/prebuilds/linux-x64/*.node
cp "$chroot_dir$stage/prebuilds/linux-x64/lmdb-txn.glibc.node" "$out.tmp" && mv "$out.tmp" "$out"
say "wrote ${out#"$root"/} ($(wc -c <"$out") bytes, source hash $expected_hash)"
shim_dir="$root/test/crash/prebuilt"
mkdir -p "$shim_dir"
cp "$chroot_dir$stage/shim/shim.so" "$shim_dir/shim-linux-x64.so.tmp" && mv "$shim_dir/shim-linux-x64.so.tmp" "$shim_dir/shim-linux-x64.so"
sha256sum "$root/test/crash/shim.c" | cut -c1-16 | tr -d '\n' >"$shim_dir/shim-linux-x64.so.source"
say "wrote test/crash/prebuilt/shim-linux-x64.so (from shim.c $(cat "$shim_dir/shim-linux-x64.so.source"))"
# test/read-start.test.ts's stress program, LMDB linked in, for machines
# without g++ or liblmdb-dev; named by a hash over its three sources
stress_dir="$root/test/native/prebuilt"
mkdir -p "$stress_dir"
cp "$chroot_dir$stage/stress/read-start-stress" "$stress_dir/read-start-stress-linux-x64.tmp" &&
  mv "$stress_dir/read-start-stress-linux-x64.tmp" "$stress_dir/read-start-stress-linux-x64"
(cd "$root" && cat test/native/read-start-stress.cc native/read_start.h native/read_start.cc) | sha256sum | cut -c1-16 |
  tr -d '\n' >"$stress_dir/read-start-stress-linux-x64.source"
say "wrote test/native/prebuilt/read-start-stress-linux-x64 (from sources $(cat "$stress_dir/read-start-stress-linux-x64.source"))"
