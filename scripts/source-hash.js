'use strict'
// Prints a SHA-256 over exactly what builds the addon: binding.gyp, the
// sources it lists, the headers beside them, and the repo files its actions
// and link flags use (scripts/lmdb-object.sh, native/exports.map). It is
// compiled into the addon (nativeSourceHash) so a test can tell a stale
// committed prebuild. Stray files (editor backups, *.orig) do not count.
const crypto = require('crypto')
const fs = require('fs')
const path = require('path')

const root = path.join(__dirname, '..')

/** binding.gyp is a Python literal; this one is JSON once `#` comment lines go. */
function readGyp () {
  const text = fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8')
  return JSON.parse(text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n'))
}

function buildInputs () {
  const gyp = readGyp()
  const files = new Set(['binding.gyp'])
  const isRepoFile = (f) => !/[<>!@$(]/.test(f) && fs.existsSync(path.join(root, f))
  for (const t of gyp.targets) {
    for (const s of t.sources ?? []) files.add(s)
    for (const a of t.actions ?? []) for (const i of a.inputs ?? []) if (isRepoFile(i)) files.add(i)
    for (const flag of [...(t.ldflags ?? []), ...(t.cflags ?? []), ...(t.cflags_cc ?? [])]) {
      const m = /<\(module_root_dir\)\/([^\s,]+)/.exec(flag)
      if (m) files.add(m[1])
    }
  }
  const sourceDirs = new Set([...files].filter((f) => /\.(c|cc|cpp)$/.test(f)).map((f) => path.posix.dirname(f)))
  for (const d of sourceDirs) {
    for (const f of fs.readdirSync(path.join(root, d))) if (/\.(h|hh|hpp)$/.test(f)) files.add(path.posix.join(d, f))
  }
  return [...files].sort()
}

function sourceHash () {
  const hash = crypto.createHash('sha256')
  for (const rel of buildInputs()) {
    hash.update(rel + '\0')
    // Line endings are normalised so a checkout on another OS hashes the same.
    hash.update(fs.readFileSync(path.join(root, rel), 'utf8').replace(/\r\n/g, '\n') + '\0')
  }
  return hash.digest('hex').slice(0, 16)
}

module.exports = { sourceHash, buildInputs }
if (require.main === module) process.stdout.write(process.argv[2] === '--list' ? buildInputs().join('\n') + '\n' : sourceHash())
