'use strict'
// Scenario 6: event-loop delay (perf_hooks.monitorEventLoopDelay) while an
// application writes messages: 1b one synchronous durable commit per message
// (yielding to the event loop between messages, as a server would between
// requests), and 1c 64 concurrent writers awaiting group commits.
const { monitorEventLoopDelay } = require('perf_hooks')
const { makeMessages, messageEntries } = require('../lib/workload')
const { variantOptions, primaryVariant, verifyField } = require('./common')
const { adapters } = require('../peers')

const WRITERS = 64
const RESOLUTION_MS = 1
const PEERS = ['lmdb-txn', 'lmdb-js']
const yieldLoop = () => new Promise(resolve => setImmediate(resolve))

module.exports = {
  id: '6',
  title: 'Event-loop delay during message writes',
  unit: 'msg/s',
  describe: 'monitorEventLoopDelay (1 ms timer) while writing messages as in 1b (a setImmediate yield between messages) and 1c (64 writers); delay = how late the 1 ms timer fired, p50/p99/max',
  rows (quick) {
    const params = { messages: quick ? 100 : 3000, warmup: quick ? 10 : 100 }
    const rows = []
    for (const a of adapters.filter(a => PEERS.includes(a.name))) {
      rows.push({ peer: a.name, variant: primaryVariant(a, '1b'), group: '1b', params: { ...params, kind: '1b' } })
      for (const v of Object.keys(a.variants['1c'] || {})) rows.push({ peer: a.name, variant: v, group: '1c', params: { ...params, messages: params.messages * 4, kind: '1c' } })
    }
    return rows
  },

  async run ({ adapter, variant, dir, params }) {
    const opts = variantOptions(adapter, params.kind, variant)
    const h = await adapter.open(dir, { durability: 'sync', defaults: opts.defaults })
    try {
      if (params.kind === '1c') h.check?.('transaction')
      const write = h['write' + params.kind][variant]
      const msgs = makeMessages(params.warmup + params.messages, { seed: 71 })
      const entries = msgs.map(messageEntries)
      const writeRange = async (from, to) => {
        if (params.kind === '1b') {
          for (let i = from; i < to; i++) { await write(entries[i], msgs[i]); await yieldLoop() }
          return
        }
        let next = from
        const worker = async () => { while (next < to) { const i = next++; await write(entries[i], msgs[i]) } }
        await Promise.all(Array.from({ length: WRITERS }, worker))
      }
      await writeRange(0, params.warmup)
      const hist = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
      hist.enable()
      const t0 = performance.now()
      await writeRange(params.warmup, params.warmup + params.messages)
      const wallMs = performance.now() - t0
      hist.disable()
      verifyField(h, msgs[msgs.length - 1])
      // the histogram records whole timer intervals; the delay is the excess
      // over the 1 ms resolution
      const ms = ns => Math.max(0, ns / 1e6 - RESOLUTION_MS)
      return {
        n: params.messages,
        wallMs,
        opsPerSec: params.messages / (wallMs / 1000),
        durable: opts.durable !== false,
        note: opts.note,
        delay: { p50Ms: ms(hist.percentile(50)), p99Ms: ms(hist.percentile(99)), maxMs: ms(hist.max), meanMs: ms(hist.mean), samples: hist.count, resolutionMs: RESOLUTION_MS }
      }
    } finally {
      await h.close()
    }
  }
}
