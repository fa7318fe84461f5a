'use strict'
/**
 * The crash suite's workload: numbered messages in the hb_cache style.
 *
 * Message `seq` (0, 1, 2, ...) is 14 keys:
 *   msg/<id>               group
 *   msg/<id>/f0 .. f9      10 simple values (~110 bytes), each naming its
 *                          seq and field and carrying a checksum of itself
 *   msg/<id>/prev          link → msg/<id of seq-1> (seq 0: → its own group)
 *   by-seq/<seq, 8 digits> link → msg/<id>
 *   by-hash/<sha of f1>    link → msg/<id>/f1
 * <id> is 16 random-looking bytes in hex (a hash of seq), as content
 * addresses are, so consecutive messages land on unrelated pages.
 *
 * Everything is a pure function of seq, so a verifier can recompute the
 * exact bytes every key must hold.
 */
const crypto = require('node:crypto')

const FIELDS = 10
const KEYS_PER_MESSAGE = FIELDS + 4
const TAG = { simple: 1, group: 2, link: 3 }

const sha = (s) => crypto.createHash('sha256').update(s).digest('hex')

const ids = []
function idOf (seq) {
  for (let i = ids.length; i <= seq; i++) ids.push(sha(`lmdb-txn-crash/${i}`).slice(0, 32))
  return ids[seq]
}

const pad = (seq) => String(seq).padStart(8, '0')

function fieldValue (seq, field) {
  const body = `seq=${seq};field=${field};payload=${sha(`payload/${seq}/${field}`)}`
  return `${body};sum=${sha(body).slice(0, 16)}`
}

/** Parses a field value; `ok` says whether its checksum matches. */
function parseFieldValue (text) {
  const m = /^seq=(\d+);field=(\d+);payload=([0-9a-f]{64});sum=([0-9a-f]{16})$/.exec(text)
  if (m === null) return { ok: false }
  const body = text.slice(0, text.lastIndexOf(';sum='))
  return { ok: sha(body).slice(0, 16) === m[4], seq: Number(m[1]), field: Number(m[2]) }
}

function message (seq) {
  const id = idOf(seq)
  const path = `msg/${id}`
  const fields = {}
  for (let i = 0; i < FIELDS; i++) fields[`f${i}`] = fieldValue(seq, i)
  const links = [
    { target: seq > 0 ? `msg/${idOf(seq - 1)}` : path, path: `${path}/prev` },
    { target: path, path: `by-seq/${pad(seq)}` },
    { target: `${path}/f1`, path: `by-hash/${sha(fields.f1).slice(0, 32)}` }
  ]
  return { path, fields, links }
}

/** Every key of message `seq` → { tag, payload (Buffer) } exactly as stored. */
function expectedEntries (seq) {
  const m = message(seq)
  const out = new Map()
  out.set(m.path, { tag: TAG.group, payload: Buffer.alloc(0) })
  for (const [name, value] of Object.entries(m.fields)) {
    out.set(`${m.path}/${name}`, { tag: TAG.simple, payload: Buffer.from(value) })
  }
  for (const l of m.links) out.set(l.path, { tag: TAG.link, payload: Buffer.from(l.target) })
  return out
}

/** Writes message `seq` into an open transaction, key by key. */
function writeInto (txn, seq, { checkReads = false } = {}) {
  const m = message(seq)
  txn.makeGroup(m.path)
  for (const [name, value] of Object.entries(m.fields)) txn.write(`${m.path}/${name}`, value)
  for (const l of m.links) txn.makeLink(l.target, l.path)
  if (checkReads) {
    // Read-your-writes through the links just made, before commit.
    const got = txn.readString(`by-seq/${pad(seq)}/f3`)
    if (got !== m.fields.f3) throw new Error(`read-your-writes failed for seq ${seq}: ${got}`)
  }
}

function batchOps (seq) {
  const m = message(seq)
  const ops = [{ op: 'group', path: m.path }]
  for (const [name, value] of Object.entries(m.fields)) ops.push({ op: 'insert', path: `${m.path}/${name}`, value })
  for (const l of m.links) ops.push({ op: 'link', target: l.target, path: l.path })
  return ops
}

/**
 * The write paths under test. Each writes `seqs` (consecutive) and returns
 * once they are committed; the synchronous ones return undefined, the
 * group-commit one a promise per message.
 */
const APIS = {
  // the transaction context: begin → write… → makeGroup → makeLink → commit
  begin (store, seqs) {
    for (const seq of seqs) {
      const txn = store.begin()
      writeInto(txn, seq, { checkReads: true })
      txn.commit()
    }
  },
  transactionSync (store, seqs) {
    for (const seq of seqs) store.transactionSync((txn) => writeInto(txn, seq))
  },
  writeMessage (store, seqs) {
    for (const seq of seqs) store.writeMessage(message(seq))
  },
  batch (store, seqs) {
    for (const seq of seqs) {
      const r = store.batch(batchOps(seq), { atomic: true })
      if (r.committed !== KEYS_PER_MESSAGE) throw new Error(`batch committed ${r.committed}`)
    }
  },
  // group commit: all of seqs are queued in one turn and commit together
  transaction (store, seqs) {
    return seqs.map((seq) => store.transaction((txn) => { writeInto(txn, seq); return seq }))
  },
  // several messages in ONE transactionSync (a larger commit: more pages)
  multi (store, seqs) {
    store.transactionSync((txn) => { for (const seq of seqs) writeInto(txn, seq) })
  }
}

module.exports = {
  FIELDS, KEYS_PER_MESSAGE, TAG, APIS, idOf, pad, sha, fieldValue, parseFieldValue, message, expectedEntries, writeInto, batchOps
}
