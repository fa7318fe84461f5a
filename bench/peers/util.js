'use strict'
const fs = require('fs')
const path = require('path')

const OPTIONAL = path.join(__dirname, '..', 'optional', 'node_modules')

// require() a peer: first from bench/optional (peers that compile from
// source), then the project's own node_modules.
function requirePeer (name) {
  const local = path.join(OPTIONAL, name)
  if (fs.existsSync(local)) return require(local)
  return require(name)
}

// The installed version of a package, found by walking up from its entry
// point (some packages do not export ./package.json).
function peerVersion (name) {
  let file
  const local = path.join(OPTIONAL, name)
  try { file = require.resolve(fs.existsSync(local) ? local : name) } catch { return null }
  for (let dir = path.dirname(file); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const pj = path.join(dir, 'package.json')
    if (!fs.existsSync(pj)) continue
    const meta = JSON.parse(fs.readFileSync(pj, 'utf8'))
    if (meta.name === name) return meta.version
  }
  return null
}

// Thrown when a peer lacks the API a row needs; the row reads "not available".
class NotAvailable extends Error {}

module.exports = { requirePeer, peerVersion, NotAvailable }
