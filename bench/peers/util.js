'use strict'
const fs = require('fs')
const path = require('path')

// The peers are bench/package.json's (installed by bench/install-peers.js),
// never the root project's: the root installs no benchmark peer.
const PEERS = path.join(__dirname, '..', 'node_modules')

function requirePeer (name) {
  const local = path.join(PEERS, name)
  if (!fs.existsSync(local)) throw new Error(`${name} is not installed in bench/node_modules (npm could not install it; see the output of the first bench run, or run node bench/install-peers.js --force)`)
  return require(local)
}

// The installed version of a package, found by walking up from its entry
// point (some packages do not export ./package.json).
function peerVersion (name) {
  let file
  try { file = require.resolve(path.join(PEERS, name)) } catch { return null }
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
