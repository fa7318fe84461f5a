'use strict'
// Deterministic workload: every peer in a run gets the same keys and bytes.

// mulberry32: small, fast, seedable PRNG (not for crypto)
function rng (seed = 1) {
  let a = seed >>> 0
  return function next () {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const HEX = '0123456789abcdef'
// a random 16-byte id as 32 hex characters, like a content hash
function hexId (rand) {
  let s = ''
  for (let i = 0; i < 32; i++) s += HEX[(rand() * 16) | 0]
  return s
}
// an ascending 16-byte id (the "extra row": sequential ids touch few pages)
function ascId (n) {
  return n.toString(16).padStart(32, '0')
}

// A pool of incompressible bytes that values are sliced from.
function bytePool (rand, size = 1 << 20) {
  const b = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) b[i] = (rand() * 256) | 0
  return b
}
function valueAt (pool, i, size) {
  const off = (i * 97) % (pool.length - size)
  return pool.subarray(off, off + size)
}

// A message: 1 group + `fields` fields of `valueSize` bytes + `links` links
// (default 1 + 10 + 3 = 14 keys) under msg/<id>; link paths are hash/<id>.
function makeMessage (id, rand, pool, { fields = 10, valueSize = 100, links = 3 } = {}) {
  const path = 'msg/' + id
  const f = {}
  for (let i = 0; i < fields; i++) f['f' + i] = valueAt(pool, (rand() * 1e9) | 0, valueSize)
  const l = []
  for (let i = 0; i < links; i++) l.push({ target: path, path: 'hash/' + hexId(rand) })
  return { path, fields: f, links: l }
}

const GROUP_MARK = Buffer.from([0x67]) // what key-value peers store for the group key

// The same message as flat [key, value] pairs for stores without groups/links.
function messageEntries (msg) {
  const out = [[msg.path, GROUP_MARK]]
  for (const name of Object.keys(msg.fields)) out.push([msg.path + '/' + name, msg.fields[name]])
  for (const link of msg.links) out.push([link.path, Buffer.from(link.target)])
  return out
}

function makeMessages (n, { seed = 7, ascending = false, ...shape } = {}) {
  const rand = rng(seed)
  const pool = bytePool(rng(seed + 1))
  const out = new Array(n)
  for (let i = 0; i < n; i++) out[i] = makeMessage(ascending ? ascId(i + 1) : hexId(rand), rand, pool, shape)
  return out
}

function shuffle (arr, rand) {
  for (let i = arr.length - 1; i > 0; i--) {
    const j = (rand() * (i + 1)) | 0
    const t = arr[i]; arr[i] = arr[j]; arr[j] = t
  }
  return arr
}

module.exports = { rng, hexId, ascId, bytePool, valueAt, makeMessage, makeMessages, messageEntries, shuffle, GROUP_MARK }
