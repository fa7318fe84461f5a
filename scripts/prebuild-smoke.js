'use strict'
// Run by scripts/build-prebuild.sh inside the bullseye chroot, in a package
// directory holding dist/ and prebuilds/ but no build/: the loader must pick
// the glibc prebuild, which must load, write a message and read it back,
// report the LMDB it links, and carry the expected source hash.
//   node prebuild-smoke.js <package dir> <expected source hash>
const fs = require('fs')
const os = require('os')
const path = require('path')

const dir = path.resolve(process.argv[2])
const expectedHash = process.argv[3]
const expected = path.join(dir, 'prebuilds', 'linux-x64', 'lmdb-txn.glibc.node')
const where = require(path.join(dir, 'node_modules', 'node-gyp-build')).path(dir)
if (where !== expected) throw new Error(`the loader picked ${where}, not ${expected}`)

const lib = require(dir)
const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lmdb-txn-prebuild-smoke-'))
try {
  const store = lib.open(storeDir)
  store.writeMessage({ path: 'msg/1', fields: { body: 'round trip' }, links: [{ target: 'msg/1', path: 'latest' }] })
  const body = store.readString('latest/body')
  store.close()
  if (body !== 'round trip') throw new Error(`read back ${JSON.stringify(body)}`)
} finally {
  fs.rmSync(storeDir, { recursive: true, force: true })
}
const hash = require(where).sourceHash
if (hash !== expectedHash) throw new Error(`source hash ${hash}, expected ${expectedHash}`)
const glibc = process.report.getReport().header.glibcVersionRuntime
console.error(`build-prebuild: loaded under glibc ${glibc}: message round trip ok, LMDB ${lib.lmdbVersion}, source hash ${hash}`)
