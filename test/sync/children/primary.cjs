'use strict'
/**
 * A primary for the JetStream fault tests. argv: <root> <dir> <urls> <stream>
 * <replicas> <from> <to> [maxBytes] [burst]. Commits transactions from..to-1 (each
 * writes t/<i>/a, t/<i>/b and `last`; 64 in flight, or all queued at once with `burst`,
 * so commits run far ahead of publishing) while replicate() publishes
 * them, then waits until the stream acked everything. Prints JSON lines:
 * {committed:i} as it goes, {synced:seq} at the end; then idles until killed.
 */
const [root, dir, urls, stream, replicas, from, to, maxBytes, mode] = process.argv.slice(2)
const lib = require(root)
const { replicate } = require(root + '/dist/sync/index.js')
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n')

async function main () {
  const store = lib.open(dir, { changeLog: true })
  const create = { replicas: Number(replicas) }
  if (Number(maxBytes) > 0) create.maxBytes = Number(maxBytes)
  const rep = replicate(store, {
    peers: [{ nats: urls, stream, create, ackTimeoutMs: 2000 }],
    backoff: { initialMs: 50, maxMs: 500 }
  })
  // diagnostics for a failing test (stderr is shown then)
  setInterval(() => process.stderr.write(JSON.stringify(rep.status()) + '\n'), 2000).unref()
  const value = (i) => `v${i}-${'x'.repeat(i % 7 * 10)}`
  let next = Number(from)
  const end = Number(to)
  const worker = async () => {
    while (next < end) {
      const i = next++
      await store.transaction((txn) => {
        txn.write(`t/${i}/a`, value(i))
        txn.write(`t/${i}/b`, value(i))
        txn.write('last', String(i))
      })
      if (i % 20 === 0) out({ committed: i })
    }
  }
  await Promise.all(Array.from({ length: mode === 'burst' ? end - next : 64 }, worker))
  const seq = store.stat().changeLog.last
  out({ committed: end - 1, seq })
  await rep.synced(seq)
  out({ synced: seq, status: rep.status() })
  setInterval(() => {}, 1 << 30)
}
main().catch((e) => { out({ error: e.message }); process.exit(1) })
