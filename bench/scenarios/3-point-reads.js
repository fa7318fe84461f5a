'use strict'
// Scenario 3: point reads of random existing keys in a shuffled order, each
// read a fresh view of the latest commit. ops/s from an untimed loop over
// every key; latency from a second shuffled pass timed read by read.
const { rng, hexId, bytePool, valueAt, shuffle } = require('../lib/workload')
const { measureSync, loadTinybench } = require('../lib/measure')
const { rowsFor, variantOptions } = require('./common')

const CHUNK = 50000

module.exports = {
  id: '3',
  title: 'Point reads',
  rounds: 3,
  unit: 'reads/s',
  describe: 'random existing 16-byte hex keys with 100-byte values, read in a shuffled order; "through one link" reads l/<key>, a link to <key>',
  rows: quick => rowsFor('3', { keys: quick ? 20000 : 200000, warmup: quick ? 5000 : 20000, latencyReads: quick ? 5000 : 50000 }),

  async run ({ adapter, variant, dir, params }) {
    await loadTinybench()
    const { viaLink } = variantOptions(adapter, '3', variant)
    const rand = rng(31)
    const pool = bytePool(rng(32))
    const n = params.keys
    const keys = new Array(n)
    for (let i = 0; i < n; i++) keys[i] = hexId(rand)
    const h = await adapter.open(dir, { durability: 'sync' })
    try {
      for (let s = 0; s < n; s += CHUNK) {
        await h.inTxn(() => {
          for (let i = s; i < Math.min(n, s + CHUNK); i++) {
            h.put(keys[i], valueAt(pool, i, 100))
            if (viaLink) h.link(keys[i], 'l/' + keys[i])
          }
        })
      }
      const readKeys = viaLink ? keys.map(k => 'l/' + k) : keys
      const read = h.read[variant]
      const check = (i, v) => { if (v == null || v.length !== 100) throw new Error(`read of key #${i} returned ${v == null ? v : v.length + ' bytes'}`) }
      for (let i = 0; i < params.warmup; i++) { const j = (rand() * n) | 0; check(j, read(readKeys[j])) }
      const order = shuffle(Array.from({ length: n }, (_, i) => i), rand)
      const t0 = performance.now()
      let missing = 0
      for (let i = 0; i < n; i++) { const v = read(readKeys[order[i]]); if (v == null) missing++ }
      const wallMs = performance.now() - t0
      if (missing) throw new Error(`${missing} of ${n} reads found nothing`)
      check(order[0], read(readKeys[order[0]]))
      shuffle(order, rand)
      const lat = measureSync({ fn: i => read(readKeys[order[i]]), iterations: params.latencyReads })
      return { n, wallMs, opsPerSec: n / (wallMs / 1000), meanMs: lat.meanMs, p50Ms: lat.p50Ms, p99Ms: lat.p99Ms, maxMs: lat.maxMs, latencyN: params.latencyReads }
    } finally {
      await h.close()
    }
  }
}
