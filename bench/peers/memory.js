'use strict'
// Not a peer: a JS Map with no copies and no durability, used as the ceiling
// of scenario 4 (what the index algorithm itself costs in this process).
module.exports = {
  name: 'in-memory Map',
  pkg: null,
  reference: true,
  version: () => process.version,
  load: () => true,
  syncsPerCommit: 0,
  variants: {
    4: { 'no store, no durability (the algorithm alone)': { mode: 'sync', note: 'no store, nothing on disk' } }
  },
  open () {
    const m = new Map()
    const kv = { get: k => m.get(k), put: (k, v) => { m.set(k, v) } }
    return { kvSync: fn => fn(kv), kvRead: kv, read: {}, close () {} }
  }
}
