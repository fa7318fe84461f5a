'use strict'
// Scenario 8: whole-message reads (issue #17).
//  8a one message (its group + 10 fields of 100 B, 11 keys) read whole: lmdb-txn
//     readMessage() vs its own list() + read() per field, lmdb-js getRange
//     over the message's key range, node-lmdb's cursor over the same range.
//  8b its 10 field values by key: lmdb-txn readMany() vs lmdb-js getMany()
//     (async: prefetched on a thread) and get() per key.
// Messages are read in a shuffled order, each read a fresh view of the latest
// commit; ops/s from an untimed loop over every message.
const { makeMessages, messageEntries, shuffle, rng } = require('../lib/workload')
const { rowsFor, variantOptions } = require('./common')

const CHUNK = 1000

async function fill (h, msgs) {
  for (let s = 0; s < msgs.length; s += CHUNK) {
    await h.inTxn(() => {
      for (const msg of msgs.slice(s, s + CHUNK)) {
        if (h.putMessage) h.putMessage(null, msg)
        else for (const [k, v] of messageEntries(msg)) h.put(k, v)
      }
    })
  }
}

// Every row must hand back the 10 fields, byte for byte.
function check (msg, got, what) {
  const names = Object.keys(msg.fields)
  const values = Array.isArray(got) ? got : names.map(n => got[n])
  if (values.length !== names.length) throw new Error(`${what}: ${values.length} values, expected ${names.length}`)
  names.forEach((n, i) => {
    const v = values[i]
    if (!v || Buffer.compare(Buffer.from(v.buffer, v.byteOffset, v.byteLength), msg.fields[n]) !== 0) throw new Error(`${what}: field ${n} differs`)
  })
}

function scenario (id, title, describe) {
  return {
    id,
    title,
    rounds: 3,
    unit: 'msg/s',
    describe,
    rows: quick => rowsFor(id, { messages: quick ? 2000 : 20000, warmup: quick ? 500 : 5000 }),
    async run ({ adapter, variant, dir, params }) {
      variantOptions(adapter, id, variant)
      const msgs = makeMessages(params.messages, { seed: 81 })
      const h = await adapter.open(dir, { durability: 'nosync' })
      try {
        await fill(h, msgs)
        const rand = rng(82)
        const fieldKeys = msgs.map(m => Object.keys(m.fields).map(n => m.path + '/' + n))
        const read = id === '8a' ? (i) => h.readWhole[variant](msgs[i].path) : (i) => h.readMany[variant](fieldKeys[i])
        const async = adapter.asyncReads?.[variant] === true
        const n = msgs.length
        for (let w = 0; w < params.warmup; w++) {
          const i = (rand() * n) | 0
          const got = async ? await read(i) : read(i)
          if (w < 50) check(msgs[i], id === '8a' ? h.fieldsOf(got) : got, `${adapter.name} ${variant}`)
        }
        const order = shuffle(Array.from({ length: n }, (_, i) => i), rand)
        const t0 = performance.now()
        if (async) for (let j = 0; j < n; j++) await read(order[j])
        else for (let j = 0; j < n; j++) read(order[j])
        const wallMs = performance.now() - t0
        const last = async ? await read(order[0]) : read(order[0])
        check(msgs[order[0]], id === '8a' ? h.fieldsOf(last) : last, `${adapter.name} ${variant}`)
        return { n, wallMs, opsPerSec: n / (wallMs / 1000), keysPerMessage: id === '8a' ? 11 : 10 }
      } finally {
        await h.close()
      }
    }
  }
}

const shape = 'a message = 1 group + 10 fields × 100 B (+ 3 links elsewhere) under msg/<random 16-byte hex id>; 20,000 messages, read in a shuffled order'

module.exports = [
  scenario('8a', 'Whole-message read (11 keys)',
    `${shape}; one call per message returns all 10 field values (lmdb-txn readMessage; list()+read(): 11 calls; lmdb-js getRange({ start: path, end: path + "0" }); node-lmdb cursor over the same range)`),
  scenario('8b', 'Many values by key (10 keys)',
    `${shape}; the 10 field keys of one message per call (lmdb-txn readMany; lmdb-js getMany() is async, awaited per call; get() per key)`)
]
