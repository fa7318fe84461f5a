'use strict'
// Prints a SHA-256 over native/** and binding.gyp. It is compiled into the
// addon (nativeSourceHash) so a test can tell a stale committed prebuild.
const crypto = require('crypto')
const fs = require('fs')
const path = require('path')

const root = path.join(__dirname, '..')

function files (dir) {
  return fs.readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)])
}

function sourceHash () {
  const hash = crypto.createHash('sha256')
  const list = [...files(path.join(root, 'native')), path.join(root, 'binding.gyp')]
    .map((f) => path.relative(root, f).split(path.sep).join('/'))
    .sort()
  for (const rel of list) {
    hash.update(rel + '\0')
    // Line endings are normalised so a checkout on another OS hashes the same.
    hash.update(fs.readFileSync(path.join(root, rel), 'utf8').replace(/\r\n/g, '\n') + '\0')
  }
  return hash.digest('hex').slice(0, 16)
}

module.exports = { sourceHash }
if (require.main === module) process.stdout.write(sourceHash())
