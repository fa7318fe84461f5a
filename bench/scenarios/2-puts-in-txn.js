'use strict'
// Scenario 2: many puts inside one transaction (random 16-byte hex keys,
// 100-byte values). ops/s from an untimed loop over all puts plus the commit;
// per-put latency from a second transaction timed put by put with tinybench.
const { rng, hexId, bytePool, valueAt } = require('../lib/workload')
const { measureSync, loadTinybench } = require('../lib/measure')
const { rowsFor } = require('./common')

module.exports = {
  id: '2',
  title: 'Puts inside one transaction',
  rounds: 3,
  unit: 'puts/s',
  describe: 'random 16-byte hex keys, 100-byte values, all in one transaction (ops/s includes the commit); latency from a second transaction timed put by put',
  rows: quick => rowsFor('2', { keys: quick ? 20000 : 200000, warmup: quick ? 2000 : 10000, latencyKeys: quick ? 5000 : 50000 }),

  async run ({ adapter, dir, params }) {
    await loadTinybench()
    const rand = rng(21)
    const pool = bytePool(rng(22))
    const total = params.warmup + params.keys + params.latencyKeys
    const keys = new Array(total)
    for (let i = 0; i < total; i++) keys[i] = hexId(rand)
    const h = await adapter.open(dir, { durability: 'sync' })
    try {
      const put = h.put
      let base = 0
      await h.inTxn(() => { for (let i = 0; i < params.warmup; i++) put(keys[i], valueAt(pool, i, 100)) })
      base = params.warmup
      const t0 = performance.now()
      await h.inTxn(() => { for (let i = 0; i < params.keys; i++) put(keys[base + i], valueAt(pool, base + i, 100)) })
      const wallMs = performance.now() - t0
      base += params.keys
      let lat
      await h.inTxn(() => {
        lat = measureSync({ fn: i => put(keys[base + i], valueAt(pool, base + i, 100)), iterations: params.latencyKeys })
      })
      return { n: params.keys, wallMs, opsPerSec: params.keys / (wallMs / 1000), meanMs: lat.meanMs, p50Ms: lat.p50Ms, p99Ms: lat.p99Ms, maxMs: lat.maxMs, latencyN: params.latencyKeys }
    } finally {
      await h.close()
    }
  }
}
