'use strict'
// Scenario 1: message writes (1 group + 10 fields of 100 bytes + 3 links).
//  1a one durable transaction per key, 1b one per message, 1c group commit
//  with 64 concurrent writers.
const { makeMessages, messageEntries } = require('../lib/workload')
const { monitorEventLoopDelay } = require('perf_hooks')
const { measure } = require('../lib/measure')
const { rowsFor, primaryVariant, variantOptions, verifyField } = require('./common')
const { adapters } = require('../peers')
const { bytesWritten } = require('../lib/system')

const WRITERS = 64
const DELAY_RESOLUTION_MS = 1

// lmdb-txn's busy time per batch (store.stat().groupCommit), summed over a run.
function groupCommitStats (h) {
  const s = h.store && typeof h.store.stat === 'function' ? h.store.stat().groupCommit : undefined
  return s && typeof s.batches === 'number' ? s : undefined
}

// Write `messages` messages (after `warmup` more) with one write function.
async function runWrites ({ adapter, dir, params, kind, variant }) {
  const opts = kind === '1a' ? {} : variantOptions(adapter, kind, variant)
  const h = await adapter.open(dir, { durability: opts.durability || 'sync', defaults: opts.defaults })
  try {
    if (kind === '1c') h.check?.('transaction')
    const write = kind === '1a' ? h.write1a : h['write' + kind][variant]
    const msgs = makeMessages(params.warmup + params.messages, { ascending: params.ascending, fields: params.fields })
    const entries = msgs.map(messageEntries)
    const concurrent = kind === '1c'
    // 1c: how late a 1 ms timer fires while the measured writers run (the
    // delay is the excess over the resolution; the warm-up's JIT and heap
    // growth are not in it), and each thread's busy time per batch
    const hist = concurrent ? monitorEventLoopDelay({ resolution: DELAY_RESOLUTION_MS }) : null
    const before = concurrent ? groupCommitStats(h) : undefined
    const written0 = bytesWritten()
    const r = await measure({
      fn: i => write(entries[i], msgs[i]),
      iterations: params.messages,
      warmup: params.warmup,
      async: concurrent || !!adapter.asyncWrites,
      concurrency: concurrent ? WRITERS : 0,
      onMeasured: () => hist?.enable()
    })
    hist?.disable()
    // what the store wrote (pwrite of pages, WAL appends), warm-up included:
    // the same LMDB tree costs every LMDB binding the same pages
    const written1 = bytesWritten()
    const writtenKiBPerMessage = written0 !== undefined && written1 !== undefined
      ? (written1 - written0) / 1024 / (params.warmup + params.messages)
      : undefined
    // includes the warm-up (measure() runs it first); the delay histogram does not
    const after = concurrent ? groupCommitStats(h) : undefined
    const ms = ns => Math.max(0, ns / 1e6 - DELAY_RESOLUTION_MS)
    const delay = hist ? { p50Ms: ms(hist.percentile(50)), p99Ms: ms(hist.percentile(99)), maxMs: ms(hist.max), samples: hist.count, resolutionMs: DELAY_RESOLUTION_MS } : undefined
    let groupCommit
    if (after) {
      const b = after.batches - (before?.batches ?? 0)
      const per = k => b > 0 ? (after[k] - (before?.[k] ?? 0)) / b : 0
      groupCommit = { batches: b, callbacksPerBatch: per('callbacks'), jsMsPerBatch: per('jsMs'), writerApplyMsPerBatch: per('writerApplyMs'), writerCommitMsPerBatch: per('writerCommitMs') }
    }
    verifyField(h, msgs[msgs.length - 1])
    return {
      ...r,
      delay,
      groupCommit,
      writtenKiBPerMessage,
      keysPerMessage: entries[0].length,
      keysPerSec: r.opsPerSec * entries[0].length,
      durable: opts.durable !== false,
      note: opts.note,
      commitsPerMessage: kind === '1a' ? entries[0].length : kind === '1b' ? 1 : null,
      syncsPerCommit: opts.syncsPerCommit || adapter.syncsPerCommit
    }
  } finally {
    await h.close()
  }
}

function scenario (id, title, describe, counts) {
  return {
    id,
    title,
    rounds: 3,
    unit: 'msg/s',
    describe,
    rows (quick) {
      const c = counts(quick)
      const rows = rowsFor(id, { ...c })
      if (id === '1b') {
        // the extra row: ascending ids touch far fewer pages
        for (const a of adapters) {
          const v = primaryVariant(a, '1b') // durable by construction
          if (v) rows.push({ peer: a.name, variant: v, group: 'ascending ids', params: { ...c, ascending: true } })
        }
      }
      return rows
    },
    run: (ctx) => runWrites({ ...ctx, kind: id })
  }
}

const shape = 'a message = 1 group + 10 fields × 100 B + 3 links (14 keys) under msg/<random 16-byte hex id>'

module.exports = [
  scenario('1a', 'Message write, one durable transaction per key',
    `${shape}; every key is its own durable commit (14 commits per message) — the pattern that lets readers see half a message`,
    quick => ({ messages: quick ? 20 : 2000, warmup: quick ? 3 : 50 })),
  scenario('1b', 'Message write, one durable transaction per message',
    `${shape}; one durable commit per message, written one after another`,
    quick => ({ messages: quick ? 100 : 3000, warmup: quick ? 10 : 200 })),
  scenario('1c', 'Message write, group commit with 64 concurrent writers',
    `${shape}; 64 writers in flight, each promise awaited; durable rows resolve only after the data is on disk`,
    quick => ({ messages: quick ? 1000 : 10000, warmup: quick ? 128 : 640 }))
]
