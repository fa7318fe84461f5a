'use strict'
// Soak check for group commit and held transactions: runs N store.transaction()
// calls (64 in flight) plus N/10 begin/commit cycles and reports RSS, heap,
// active libuv resources and OS threads before and after.
//   node scripts/soak.js [N=1000000] [durability=nosync]
const fs = require('fs')
const os = require('os')
const path = require('path')
const { open } = require('..')

const N = Number(process.argv[2] ?? 1_000_000)
const durability = process.argv[3] ?? 'nosync'

function sample () {
  global.gc?.()
  const threads = Number(/Threads:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1])
  const m = process.memoryUsage()
  return {
    rssMiB: +(m.rss / 2 ** 20).toFixed(1),
    heapMiB: +(m.heapUsed / 2 ** 20).toFixed(1),
    externalMiB: +(m.external / 2 ** 20).toFixed(1),
    resources: process.getActiveResourcesInfo().length,
    threads
  }
}

async function main () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lmdb-txn-soak-'))
  const store = open(dir, { durability })
  // warm up: starts the writer thread, grows the map once
  await Promise.all(Array.from({ length: 1000 }, (_, i) => store.transaction((t) => t.write(`w/${i}`, 'x'))))
  const before = sample()
  const t0 = process.hrtime.bigint()
  let next = 0
  const worker = async () => {
    while (next < N) {
      const i = next++
      await store.transaction((t) => { t.write(`k/${i % 50000}`, 'value-' + i) })
    }
  }
  await Promise.all(Array.from({ length: 64 }, worker))
  for (let i = 0; i < N / 10; i++) {
    const txn = store.begin()
    txn.write(`b/${i % 1000}`, 'v')
    txn.commit()
    // Node-API finalizers of collected transaction objects run when the
    // event loop turns; a synchronous loop of millions would hold them.
    if (i % 10000 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  await store.flush()
  await new Promise((resolve) => setImmediate(resolve))
  const after = sample()
  const stat = store.stat()
  store.close()
  fs.rmSync(dir, { recursive: true, force: true })
  console.log(JSON.stringify({ N, durability, seconds: +seconds.toFixed(1), txnPerSec: Math.round(N / seconds), lastTxnId: stat.lastTxnId, usedMiB: +(stat.usedBytes / 2 ** 20).toFixed(1), before, after }, null, 2))
}

main().catch((e) => { console.error(e); process.exit(1) })
