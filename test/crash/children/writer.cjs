'use strict'
/**
 * Kill-loop writer. argv: <package root> <dir> <api> <durability> <firstSeq> <count> [notify]
 * Opens the store, sends { ready }, then writes messages firstSeq, firstSeq+1, …
 * through <api>, sending { ack: seq } over IPC after each commit returned
 * (for transaction(): after its promise resolved). With notify = 1 it also
 * sends { committing: seq } right before each write call, so the parent can
 * aim its kill at the commit itself. After <count> messages it
 * sends { done } and waits to be killed. Any other exit is a failure.
 */
const [root, dir, api, durability, first, count, notify] = process.argv.slice(2)
const { open } = require(root)
const W = require('../lib/workload.cjs')

const store = open(dir, { durability, mapSize: 1 << 20 }) // small: map growth happens under the kills too
const send = (m) => process.send(m)
send({ ready: true, pid: process.pid })

const firstSeq = Number(first)
const end = firstSeq + Number(count)

async function main () {
  let seq = firstSeq
  if (api === 'transaction') {
    // Group commit: 1–4 callbacks queued per turn; each acked when ITS promise resolves.
    while (seq < end) {
      const n = Math.min(end - seq, 1 + (seq % 4))
      const seqs = Array.from({ length: n }, (_, i) => seq + i)
      if (notify === '1') send({ committing: seq })
      await Promise.all(W.APIS.transaction(store, seqs).map((p, i) => p.then((got) => {
        if (got !== seqs[i]) throw new Error(`transaction() resolved ${got} for ${seqs[i]}`)
        send({ ack: seqs[i] })
      })))
      seq += n
    }
  } else {
    const write = W.APIS[api]
    if (!write) throw new Error(`unknown api ${api}`)
    for (; seq < end; seq++) {
      if (notify === '1') send({ committing: seq })
      write(store, [seq])
      send({ ack: seq })
    }
  }
  send({ done: true })
  setInterval(() => {}, 1 << 30) // wait for the kill
}
main().catch((err) => {
  process.stderr.write(`writer failed: ${err && err.stack}\n`)
  process.exit(3)
})
