'use strict'
// Scenario 7: replication over HTTP (SPEC §11.2/§11.3). 64 writers each
// await rep.transaction(): a message counts when the replica — `lmdb-txn
// serve` in its own process on loopback — has applied it durably (it is
// then visible to the replica's readers). Beside it, in the same run, the
// local group-commit rate of the same workload with the change log on
// (what replication is measured against) and with it off (what the log
// costs). Lag = from the local commit being durable to the replica's ack.
const path = require('path')
const { spawn } = require('child_process')
const { makeMessages } = require('../lib/workload')

const ROOT = process.env.LMDB_TXN_MODULE || path.resolve(__dirname, '..', '..')
const WRITERS = 64

function writeBody (txn, msg) {
  txn.makeGroup(msg.path)
  for (const name in msg.fields) txn.write(msg.path + '/' + name, msg.fields[name])
  for (const link of msg.links) txn.makeLink(link.target, link.path)
}

function startServe (dir) {
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin', 'lmdb-txn.js'), 'serve', dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    let buf = ''
    proc.stdout.on('data', (c) => {
      buf += c
      const i = buf.indexOf('\n')
      if (i >= 0) resolve({ proc, url: JSON.parse(buf.slice(0, i)).url })
    })
    proc.once('exit', (code) => reject(new Error(`lmdb-txn serve exited ${code}`)))
  })
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p / 100))]

module.exports = {
  id: '7',
  title: 'Replication over HTTP: primary commit → replica-visible',
  unit: 'msg/s',
  rounds: 3,
  describe: '64 writers; "http replica": each awaits rep.transaction() (durable here and applied durably by `lmdb-txn serve` in another process on 127.0.0.1); "local": store.transaction() on the same workload, change log on / off; lag = local commit durable → replica ack, p50/p99',
  rows (quick) {
    const params = { messages: quick ? 200 : 4000, warmup: quick ? 20 : 200 }
    return [
      { peer: 'lmdb-txn', variant: 'local group commit, change log on', params: { ...params, mode: 'local', changeLog: true } },
      { peer: 'lmdb-txn', variant: 'local group commit, change log off', params: { ...params, mode: 'local', changeLog: false } },
      { peer: 'lmdb-txn', variant: 'http replica (rep.transaction)', params: { ...params, mode: 'http', changeLog: true } }
    ]
  },

  async run ({ dir, tmp, params }) {
    const { open } = require(ROOT)
    const { replicate } = require(path.join(ROOT, 'dist', 'sync'))
    const { kTransactionSeq } = require(path.join(ROOT, 'dist', 'internal'))
    const store = open(dir, { changeLog: params.changeLog, durability: 'sync' })
    let serve, rep
    try {
      if (params.mode === 'http') {
        serve = await startServe(path.join(tmp, 'replica'))
        rep = replicate(store, { peers: [{ url: serve.url }] })
      }
      const msgs = makeMessages(params.warmup + params.messages, { seed: 77 })
      const lags = []
      const one = async (i, measure) => {
        const fn = (t) => writeBody(t, msgs[i])
        if (!rep) return store.transaction(fn)
        const { seq } = await store[kTransactionSeq](fn)
        const committed = performance.now()
        await rep.synced(seq)
        if (measure) lags.push(performance.now() - committed)
      }
      const range = async (from, to, measure) => {
        let next = from
        await Promise.all(Array.from({ length: WRITERS }, async () => { while (next < to) await one(next++, measure) }))
      }
      await range(0, params.warmup, false)
      const t0 = performance.now()
      await range(params.warmup, params.warmup + params.messages, true)
      const wallMs = performance.now() - t0
      const last = msgs[msgs.length - 1]
      if (store.type(last.path) !== 'group') throw new Error('the last message is missing on the primary')
      const result = { n: params.messages, wallMs, opsPerSec: params.messages / (wallMs / 1000), durable: true }
      if (rep) {
        lags.sort((a, b) => a - b)
        result.lag = { p50Ms: percentile(lags, 50), p99Ms: percentile(lags, 99), maxMs: lags[lags.length - 1] }
        result.meanMs = result.lag.p50Ms
        result.p99Ms = result.lag.p99Ms
        const replica = open(path.join(tmp, 'replica'), { readOnly: true })
        try {
          if (replica.type(last.path) !== 'group') throw new Error('the last message is missing on the replica')
          result.note = `replica applied seq ${replica.stat().replica.appliedSeq}; p50/p99 are the commit→ack lag`
        } finally { replica.close() }
      }
      return result
    } finally {
      if (rep) await rep.close()
      if (serve) { serve.proc.kill('SIGTERM'); await new Promise((resolve) => serve.proc.once('exit', resolve)) }
      store.close()
    }
  }
}
