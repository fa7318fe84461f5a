'use strict'
// Scenario 7: replication (SPEC §11). 64 writers commit messages (as in 1c)
// on a primary with the change log on; a replica store in the same process
// applies them from the transport. Measured: replicated messages/s from the
// first measured commit to the last one visible on the replica, beside the
// local group-commit rate of the same run (a row without replication), and
// the lag of each record (commit on the primary → visible on the replica),
// p50/p99. Timestamps come from watch() on both stores (it wakes at once for
// commits of this process). The writers outrun the transport, so the lag
// includes the backlog: it is the latency under saturation, not at rest.
// JetStream rows spawn nats-server (one, or a three-node cluster with the
// stream at replicas: 3) on free loopback ports; HTTP rows: see #14.
const path = require('path')
const { makeMessages } = require('../lib/workload')
const { NotAvailable } = require('../peers/util')

const ROOT = process.env.LMDB_TXN_MODULE || path.resolve(__dirname, '..', '..')
const WRITERS = 64
const VARIANTS = {
  'local group commit (no replication)': { transport: 'none' },
  'JetStream, 1 server': { transport: 'jetstream', nodes: 1 },
  'JetStream, 3-node cluster, replicas: 3': { transport: 'jetstream', nodes: 3 }
}

function writeBody (txn, msg) {
  txn.makeGroup(msg.path)
  for (const name in msg.fields) txn.write(msg.path + '/' + name, msg.fields[name])
  for (const link of msg.links) txn.makeLink(link.target, link.path)
}

async function writeAll (store, msgs, from, to) {
  let next = from
  const worker = async () => { while (next < to) { const i = next++; await store.transaction(t => writeBody(t, msgs[i])) } }
  await Promise.all(Array.from({ length: WRITERS }, worker))
}

function percentile (sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p / 100))]
}

/** Times at which seqs 1..total commit on `store` (watch from the start). */
function timestamps (store, total) {
  const at = new Float64Array(total + 1)
  const done = (async () => {
    for await (const c of store.watch({ after: 0 })) {
      at[c.seq] = performance.now()
      if (c.seq >= total) break
    }
  })()
  return { at, done }
}

async function jetstreamRow (v, dir, tmp, msgs, warmup) {
  let cluster
  const { natsServerAvailable, NatsCluster } = require('../../test/helpers/nats-cluster.cjs')
  if (!natsServerAvailable) throw new NotAvailable('nats-server is not installed (apt-get install nats-server)')
  try { require.resolve('@nats-io/jetstream'); require.resolve('@nats-io/transport-node') } catch { throw new NotAvailable('@nats-io/transport-node and @nats-io/jetstream are not installed') }
  const { open } = require(ROOT)
  const { replicate, jetStreamReplica } = require(path.join(ROOT, 'dist', 'sync', 'index.js'))
  const total = msgs.length
  try {
    cluster = await NatsCluster.start(v.nodes)
    const primary = open(dir, { changeLog: true })
    const replica = open(path.join(tmp, 'replica'), { changeLog: true })
    const rep = replicate(primary, { peers: [{ nats: cluster.urls, stream: 'bench', create: { replicas: v.nodes } }] })
    const sub = jetStreamReplica(replica, { nats: cluster.urls, stream: 'bench', consumer: 'bench' })
    const committed = timestamps(primary, total)
    const visible = timestamps(replica, total) // one replica record per primary record, same order
    try {
      await writeAll(primary, msgs, 0, warmup)
      await Promise.race([visible.done, new Promise(resolve => setTimeout(resolve, 0))])
      await waitFor(() => visible.at[warmup] > 0, 120e3, 'warm-up replicated')
      const t0 = performance.now()
      await writeAll(primary, msgs, warmup, total)
      const localMs = performance.now() - t0
      await Promise.race([visible.done, rejectAfter(300e3, 'replica did not catch up')])
      await committed.done
      const wallMs = visible.at[total] - t0
      const lags = []
      for (let s = warmup + 1; s <= total; s++) lags.push(visible.at[s] - committed.at[s])
      lags.sort((a, b) => a - b)
      const st = sub.status()
      if (st.appliedSeq !== total) throw new Error(`replica applied ${st.appliedSeq} of ${total}`)
      return {
        n: total - warmup,
        wallMs,
        opsPerSec: (total - warmup) / (wallMs / 1000),
        primaryOpsPerSec: (total - warmup) / (localMs / 1000),
        durable: true,
        lag: { p50Ms: percentile(lags, 50), p99Ms: percentile(lags, 99), maxMs: lags[lags.length - 1] },
        note: `replica restarts ${st.restarts}, skipped ${st.skipped}`
      }
    } finally {
      await sub.close()
      await rep.close()
      primary.close()
      replica.close()
    }
  } finally {
    if (cluster) await cluster.stop()
  }
}

function rejectAfter (ms, what) { return new Promise((resolve, reject) => setTimeout(() => reject(new Error(what)), ms).unref()) }
async function waitFor (cond, ms, what) {
  const end = Date.now() + ms
  while (!cond()) { if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`); await new Promise(resolve => setTimeout(resolve, 10)) }
}

module.exports = {
  id: '7',
  title: 'Replication: primary commit to replica-visible, 64 writers',
  unit: 'msg/s',
  describe: 'messages as in 1c (64 writers, store.transaction()) on a primary with the change log; a replica in the same process applies them from the transport; msg/s from the first measured commit to the last visible on the replica, beside the local group-commit rate of the same run; lag = commit → visible per record (p50/p99, includes the backlog)',
  rows (quick) {
    const params = { messages: quick ? 200 : 3000, warmup: quick ? 20 : 200 }
    return Object.keys(VARIANTS).map(variant => ({ peer: 'lmdb-txn', variant, params }))
  },

  async run ({ variant, dir, tmp, params }) {
    const v = VARIANTS[variant]
    const msgs = makeMessages(params.warmup + params.messages, { seed: 77 })
    if (v.transport === 'none') {
      const { open } = require(ROOT)
      const store = open(dir)
      try {
        await writeAll(store, msgs, 0, params.warmup)
        const t0 = performance.now()
        await writeAll(store, msgs, params.warmup, msgs.length)
        const wallMs = performance.now() - t0
        return { n: params.messages, wallMs, opsPerSec: params.messages / (wallMs / 1000), durable: true }
      } finally { store.close() }
    }
    return await jetstreamRow(v, dir, tmp, msgs, params.warmup)
  }
}
