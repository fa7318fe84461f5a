'use strict'
// Scenario 5: how cost grows.
//  5f: durable message writes (scenario 1b) as fields per message go 1 → 1000
//  5s: durable message writes and point reads as the store grows
const fs = require('fs')
const path = require('path')
const { rng, hexId, bytePool, makeMessage, makeMessages, messageEntries } = require('../lib/workload')
const { measure, measureSync, loadTinybench } = require('../lib/measure')
const { primaryVariant, verifyField } = require('./common')
const { adapters } = require('../peers')

const FIELDS = [1, 10, 100, 1000]
const PRELOAD_TXN = 5000 // messages per bulk-load transaction

// one row per peer: its primary 1b variant (the message-write row)
function rows (ids, params) {
  return adapters
    .filter(a => primaryVariant(a, '1b') && (!ids || ids.includes(a.name)))
    .map(a => ({ peer: a.name, variant: primaryVariant(a, '1b'), params }))
}

async function writeRun (adapter, variant, dir, { messages, warmup, fields, seed }) {
  const h = await adapter.open(dir, { durability: 'sync' })
  try {
    const msgs = makeMessages(warmup + messages, { fields, seed })
    const entries = msgs.map(messageEntries)
    const write = h.write1b[variant]
    const r = await measure({ fn: i => write(entries[i], msgs[i]), iterations: messages, warmup, async: !!adapter.asyncWrites })
    verifyField(h, msgs[msgs.length - 1])
    return { fields, keysPerMessage: entries[0].length, ...r, keysPerSec: r.opsPerSec * entries[0].length }
  } finally {
    await h.close()
  }
}

const fieldsScenario = {
  id: '5f',
  title: 'Cost growth: fields per message',
  unit: 'msg/s',
  describe: 'scenario 1b (one durable transaction per message) with 1, 10, 100 and 1,000 fields of 100 B (+ group + 3 links), each on a fresh store',
  rows: quick => rows(null, {
    fields: FIELDS,
    messages: quick ? [30, 30, 10, 3] : [2000, 2000, 500, 60],
    warmup: quick ? [5, 5, 2, 1] : [100, 100, 20, 5]
  }),
  async run ({ adapter, variant, tmp, params }) {
    const points = []
    for (let i = 0; i < params.fields.length; i++) {
      const dir = path.join(tmp, 'fields-' + params.fields[i])
      fs.mkdirSync(dir)
      points.push(await writeRun(adapter, variant, dir, { messages: params.messages[i], warmup: params.warmup[i], fields: params.fields[i], seed: 50 + i }))
    }
    return { points }
  }
}

// bulk-load messages (untimed) until the store holds `to`
async function preload (h, state, to) {
  while (state.count < to) {
    const n = Math.min(PRELOAD_TXN, to - state.count)
    await h.inTxn(() => {
      for (let i = 0; i < n; i++) {
        const msg = makeMessage(hexId(state.rand), state.rand, state.pool)
        state.ids.push(msg.path)
        if (h.putMessage) h.putMessage(null, msg)
        else for (const [k, v] of messageEntries(msg)) h.put(k, v)
      }
    })
    state.count += n
  }
}

const sizeScenario = {
  id: '5s',
  title: 'Cost growth: store size',
  unit: 'msg/s',
  describe: 'the store is bulk-loaded (untimed) to each size in messages (14 keys each); then durable message writes as in 1b, and point reads of random existing fields (a fresh view per read)',
  rows: quick => rows(['lmdb-txn', 'lmdb-js'], {
    sizes: quick ? [2000, 10000] : [10000, 100000, 1000000],
    messages: quick ? 100 : 300,
    warmup: quick ? 10 : 30,
    reads: quick ? 10000 : 50000
  }),
  async run ({ adapter, variant, dir, params }) {
    await loadTinybench()
    const h = await adapter.open(dir, { durability: 'sync' })
    const readVariant = primaryVariant(adapter, '3')
    const read = h.read[readVariant]
    const write = h.write1b[variant]
    const state = { count: 0, ids: [], rand: rng(61), pool: bytePool(rng(62)) }
    const points = []
    try {
      for (const size of params.sizes) {
        const t0 = performance.now()
        await preload(h, state, size)
        const preloadMs = performance.now() - t0
        // durable writes of new messages (they grow the store a little)
        const msgs = makeMessages(params.warmup + params.messages, { seed: 63 + points.length })
        const entries = msgs.map(messageEntries)
        const w = await measure({ fn: i => write(entries[i], msgs[i]), iterations: params.messages, warmup: params.warmup, async: !!adapter.asyncWrites })
        state.count += params.warmup + params.messages
        // point reads of random existing fields
        const keys = new Array(params.reads)
        for (let i = 0; i < params.reads; i++) keys[i] = state.ids[(state.rand() * state.ids.length) | 0] + '/f' + ((state.rand() * 10) | 0)
        const tr = performance.now()
        let missing = 0
        for (let i = 0; i < keys.length; i++) if (read(keys[i]) == null) missing++
        const readWallMs = performance.now() - tr
        if (missing) throw new Error(`${missing} reads found nothing at size ${size}`)
        const rl = measureSync({ fn: i => read(keys[i]), iterations: keys.length })
        points.push({
          size,
          preloadMs,
          write: { n: w.n, opsPerSec: w.opsPerSec, meanMs: w.meanMs, p99Ms: w.p99Ms },
          read: { variant: readVariant, n: keys.length, opsPerSec: keys.length / (readWallMs / 1000), meanMs: rl.meanMs, p99Ms: rl.p99Ms }
        })
      }
      return { points }
    } finally {
      await h.close()
    }
  }
}

module.exports = [fieldsScenario, sizeScenario]
