'use strict'
// Helpers shared by the scenarios.
const { adapters } = require('../peers')

// One row per (peer, variant) that declares the scenario, in peer order.
function rowsFor (id, params, extra = {}) {
  const rows = []
  for (const a of adapters) {
    for (const variant of Object.keys(a.variants[id] || {})) {
      rows.push({ peer: a.name, variant, params, ...extra })
    }
  }
  return rows
}

// The first variant a peer declares for a scenario.
function primaryVariant (adapter, id) {
  return Object.keys(adapter.variants[id] || {})[0]
}

function variantOptions (adapter, id, variant) {
  const v = adapter.variants[id] && adapter.variants[id][variant]
  if (!v) throw new Error(`${adapter.name} has no variant "${variant}" for scenario ${id}`)
  return v
}

function sameBytes (a, b) {
  return a != null && b != null && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0
}

// Check that a field written by the benchmark reads back (guards against an
// adapter that silently writes nothing).
function verifyField (h, msg) {
  const read = Object.values(h.read)[0]
  const name = Object.keys(msg.fields)[0]
  if (!name) return
  const got = read(msg.path + '/' + name)
  if (!sameBytes(got, msg.fields[name])) throw new Error(`read-back check failed for ${msg.path}/${name}`)
}

module.exports = { rowsFor, primaryVariant, variantOptions, verifyField, sameBytes }
