'use strict'
// Scenario 7: replication (SPEC §11.2/§11.3), primary commit → replica-visible.
// 64 writers; each message counts when the replica has applied it durably
// (visible to the replica's readers):
//  - "http replica": each writer awaits rep.transaction()'s ack from
//    `lmdb-txn serve` in its own process on loopback (the replica acks only
//    after its apply is durable);
//  - "JetStream": the publish ack only means the stream has it, so each
//    writer awaits the record on the replica store itself (a JetStream
//    replica in this process, its commits seen through watch()); nats-server
//    runs as one node, or as a three-node cluster with the stream at
//    replicas: 3, on free loopback ports.
// Beside them, in the same run, the local group-commit rate of the same
// workload with the change log on (what replication is measured against) and
// with it off (what the log costs). Lag = local commit durable → replica.
const path = require('path')
const { spawn } = require('child_process')
const { makeMessages } = require('../lib/workload')
const { NotAvailable } = require('../peers/util')

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

/** A JetStream primary peer and a replica store fed from it in this process; visible(seq) resolves once applied there. */
async function startJetStream (store, tmp, nodes) {
  const { natsServerAvailable, NatsCluster } = require('../../test/helpers/nats-cluster.cjs')
  if (!natsServerAvailable) throw new NotAvailable('nats-server is not installed (apt-get install nats-server)')
  try { require.resolve('@nats-io/jetstream'); require.resolve('@nats-io/transport-node') } catch { throw new NotAvailable('@nats-io/transport-node and @nats-io/jetstream are not installed') }
  const { open } = require(ROOT)
  const { replicate, jetStreamReplica } = require(path.join(ROOT, 'dist', 'sync'))
  const cluster = await NatsCluster.start(nodes)
  // the replica's own change log has one record per applied primary record, in order
  const replica = open(path.join(tmp, 'replica'), { changeLog: true })
  const rep = replicate(store, { peers: [{ nats: cluster.urls, stream: 'bench', create: { replicas: nodes } }] })
  const sub = jetStreamReplica(replica, { nats: cluster.urls, stream: 'bench', consumer: 'bench' })
  let applied = 0
  const waiters = []
  const abort = new AbortController()
  const watching = (async () => {
    for await (const c of replica.watch({ after: 0, signal: abort.signal })) {
      applied = c.seq
      while (waiters.length > 0 && waiters[0].seq <= applied) waiters.shift().resolve()
    }
  })()
  return {
    rep,
    visible (seq) {
      if (seq <= applied) return Promise.resolve()
      return new Promise((resolve) => {
        let i = waiters.length
        while (i > 0 && waiters[i - 1].seq > seq) i--
        waiters.splice(i, 0, { seq, resolve })
      })
    },
    note: () => { const s = sub.status(); return `replica applied seq ${s.appliedSeq}; consumer restarts ${s.restarts}, redeliveries skipped ${s.skipped}` },
    async close () {
      await sub.close()
      abort.abort()
      await watching
      await rep.close()
      replica.close()
      await cluster.stop()
    }
  }
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p / 100))]

module.exports = {
  id: '7',
  title: 'Replication: primary commit → replica-visible',
  unit: 'msg/s',
  rounds: 3,
  describe: '64 writers; "http replica": each awaits rep.transaction() (durable here and applied durably by `lmdb-txn serve` in another process on 127.0.0.1), the messages of one turn in one POST /v1/batch, or one request per message; "JetStream": each awaits its record applied on a replica store fed by a JetStream consumer in this process (nats-server: one node, or three with the stream at replicas: 3); "local": store.transaction() on the same workload, change log on / off; lag = local commit durable → applied on the replica, p50/p99',
  rows (quick) {
    const params = { messages: quick ? 200 : 4000, warmup: quick ? 20 : 200 }
    const js = { ...params, messages: quick ? 200 : 2000 }
    return [
      { peer: 'lmdb-txn', variant: 'local group commit, change log on', params: { ...params, mode: 'local', changeLog: true } },
      { peer: 'lmdb-txn', variant: 'local group commit, change log off', params: { ...params, mode: 'local', changeLog: false } },
      { peer: 'lmdb-txn', variant: 'http replica (rep.transaction)', params: { ...params, mode: 'http', changeLog: true } },
      { peer: 'lmdb-txn', variant: 'http replica, one request per message', params: { ...params, mode: 'http', changeLog: true, maxBatchMessages: 1 } },
      { peer: 'lmdb-txn', variant: 'JetStream, 1 server', params: { ...js, mode: 'jetstream', nodes: 1, changeLog: true } },
      { peer: 'lmdb-txn', variant: 'JetStream, 3-node cluster (replicas: 3)', params: { ...js, mode: 'jetstream', nodes: 3, changeLog: true } }
    ]
  },

  async run ({ dir, tmp, params }) {
    const { open } = require(ROOT)
    const { replicate } = require(path.join(ROOT, 'dist', 'sync'))
    const { kTransactionSeq } = require(path.join(ROOT, 'dist', 'internal'))
    const store = open(dir, { changeLog: params.changeLog, durability: 'sync' })
    let serve, rep, js
    try {
      if (params.mode === 'http') {
        serve = await startServe(path.join(tmp, 'replica'))
        rep = replicate(store, { peers: [{ url: serve.url, ...(params.maxBatchMessages ? { maxBatchMessages: params.maxBatchMessages } : {}) }] })
      }
      if (params.mode === 'jetstream') js = await startJetStream(store, tmp, params.nodes)
      const msgs = makeMessages(params.warmup + params.messages, { seed: 77 })
      const lags = []
      const one = async (i, measure) => {
        const fn = (t) => writeBody(t, msgs[i])
        if (!rep && !js) return store.transaction(fn)
        const { seq } = await store[kTransactionSeq](fn)
        const committed = performance.now()
        await (js ? js.visible(seq) : rep.synced(seq))
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
      if (rep || js) {
        lags.sort((a, b) => a - b)
        result.lag = { p50Ms: percentile(lags, 50), p99Ms: percentile(lags, 99), maxMs: lags[lags.length - 1] }
        result.meanMs = result.lag.p50Ms
        result.p99Ms = result.lag.p99Ms
      }
      if (rep) {
        const replica = open(path.join(tmp, 'replica'), { readOnly: true })
        try {
          if (replica.type(last.path) !== 'group') throw new Error('the last message is missing on the replica')
          result.note = `replica applied seq ${replica.stat().replica.appliedSeq}; p50/p99 are the commit→ack lag`
        } finally { replica.close() }
      }
      if (js) result.note = js.note() + '; p50/p99 are the commit→replica-visible lag'
      return result
    } finally {
      if (js) await js.close()
      if (rep) await rep.close()
      if (serve) { serve.proc.kill('SIGTERM'); await new Promise((resolve) => serve.proc.once('exit', resolve)) }
      store.close()
    }
  }
}
