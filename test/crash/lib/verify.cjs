'use strict'
/**
 * Consistency checks of a store after a crash, a fault or a simulated
 * power loss. Three independent views:
 *
 *  1. LMDB's own tools (Debian lmdb-utils, when installed): `mdb_stat -efa`
 *     must succeed, and its page accounting must balance: every page below
 *     the high-water mark is a meta page, a page of some tree (main, data,
 *     meta, free list) or a listed free page — a torn or leaked commit
 *     shows up as a difference.
 *  2. A raw walk: `mdb_dump` of the `data` and `meta` databases, decoded
 *     byte by byte (tag byte, payload), without the library's read path.
 *     Every key must belong to a message of the workload and hold exactly
 *     the bytes that message writes (checksums included); every link's
 *     target must be an entry; every message is complete or wholly absent.
 *  3. The library's read path: open(), stat(), list() of every group,
 *     reads through links, exists() of absent messages.
 *
 * Runs in the vitest process or in a child (children/verifier.cjs); the
 * caller passes the library's open().
 */
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const W = require('./workload.cjs')

// A damaged store can make LMDB's tools loop; bound them (a healthy walk takes milliseconds).
const TOOL_TIMEOUT_MS = 15_000
let toolsAvailable
function haveTools () {
  if (toolsAvailable === undefined) {
    const a = spawnSync('mdb_stat', ['-V'], { encoding: 'utf8' })
    const b = spawnSync('mdb_dump', ['-V'], { encoding: 'utf8' })
    toolsAvailable = !a.error && !b.error
  }
  return toolsAvailable
}

/** `mdb_stat -efa`: ok, exit status, and whether the page accounting balances. */
function mdbStat (dir) {
  const r = spawnSync('mdb_stat', ['-e', '-f', '-a', dir], { encoding: 'utf8', timeout: TOOL_TIMEOUT_MS })
  if (r.error) return { ok: false, error: String(r.error) }
  if (r.status !== 0) return { ok: false, error: `mdb_stat exited ${r.status} ${r.signal ?? ''}: ${r.stderr.trim()}` }
  const out = r.stdout
  const num = (re) => { const m = re.exec(out); return m ? Number(m[1]) : NaN }
  const pagesUsed = num(/Number of pages used: (\d+)/)
  const readers = num(/Number of readers used: (\d+)/)
  let treePages = 0
  for (const m of out.matchAll(/(?:Branch|Leaf|Overflow) pages: (\d+)/g)) treePages += Number(m[1])
  const freePages = num(/Free pages: (\d+)/)
  const entries = {}
  for (const m of out.matchAll(/Status of (\S+(?: DB)?)\n(?:  .*\n)*?  Entries: (\d+)/g)) entries[m[1]] = Number(m[2])
  const accounted = treePages + freePages + 2
  return { ok: true, pagesUsed, accounted, balanced: accounted === pagesUsed, readers, entries }
}

/** `mdb_dump -s <db>` decoded into [key, value] Buffers, in key order. */
function mdbDump (dir, db) {
  const r = spawnSync('mdb_dump', ['-s', db, dir], { encoding: 'utf8', timeout: TOOL_TIMEOUT_MS, maxBuffer: 1 << 30 })
  if (r.error) throw r.error
  if (r.status !== 0) throw new Error(`mdb_dump -s ${db} exited ${r.status} ${r.signal ?? ''}: ${r.stderr.trim()}`)
  const lines = r.stdout.split('\n')
  let i = lines.indexOf('HEADER=END')
  if (i < 0) throw new Error('mdb_dump: no HEADER=END')
  const pairs = []
  for (i++; i < lines.length && lines[i] !== 'DATA=END'; i += 2) {
    if (lines[i][0] !== ' ' || lines[i + 1]?.[0] !== ' ') throw new Error(`mdb_dump: bad line ${i}`)
    pairs.push([Buffer.from(lines[i].slice(1), 'hex'), Buffer.from(lines[i + 1].slice(1), 'hex')])
  }
  if (lines[i] !== 'DATA=END') throw new Error('mdb_dump: no DATA=END')
  return pairs
}

/** The entries as the library sees them (used when lmdb-utils is absent). */
function libraryEntries (store) {
  const out = []
  const visit = (prefix) => {
    for (const name of store.list(prefix)) {
      const p = `${prefix}/${name}`
      const t = store.type(p, { follow: false })
      if (t === 'group') out.push([Buffer.from(p), Buffer.from([W.TAG.group])])
      else if (t === 'simple') out.push([Buffer.from(p), Buffer.concat([Buffer.from([W.TAG.simple]), Buffer.from(store.read(p))])])
      else if (t === 'link') out.push([Buffer.from(p), Buffer.concat([Buffer.from([W.TAG.link]), Buffer.from(store.resolve(p))])])
      if (t !== 'link') visit(p)
    }
  }
  for (const root of ['msg', 'by-seq', 'by-hash']) visit(root)
  return out
}

const hashToSeq = new Map()
let hashedUpTo = -1
function seqOfHash (h, maxSeq) {
  for (; hashedUpTo < maxSeq; hashedUpTo++) {
    const s = hashedUpTo + 1
    hashToSeq.set(W.sha(W.fieldValue(s, 1)).slice(0, 32), s)
  }
  return hashToSeq.get(h)
}
const idToSeq = new Map()
function seqOfId (id, maxSeq) {
  for (let s = idToSeq.size; s <= maxSeq; s++) idToSeq.set(W.idOf(s), s)
  return idToSeq.get(id)
}

/** Which message a key belongs to (undefined: no message of the workload). */
function seqOfKey (key, maxSeq) {
  let m
  if ((m = /^msg\/([0-9a-f]{32})(?:\/(?:f\d|prev))?$/.exec(key))) return seqOfId(m[1], maxSeq)
  if ((m = /^by-seq\/(\d{8})$/.exec(key))) return Number(m[1]) <= maxSeq ? Number(m[1]) : undefined
  if ((m = /^by-hash\/([0-9a-f]{32})$/.exec(key))) return seqOfHash(m[1], maxSeq)
  return undefined
}

/**
 * Verifies the store in `dir`.
 *   open      the library's open() (omit to skip the library view)
 *   maxSeq    highest seq any writer may have used
 *   acked     seqs whose commit returned to a writer (must be complete)
 *   allowKey  (key) => true for keys that are not the workload's
 *   onStage   called with 'tools', then 'library' (to tell which one hangs or crashes)
 *   tools     false: skip LMDB's tools (the library's view only)
 * Returns counts and `problems` (strings; empty when the store is good).
 */
function verifyStore (dir, { open, maxSeq, acked = [], allowKey = () => false, libraryDepth = 'full', onStage = () => {}, tools = true } = {}) {
  const problems = []
  const report = { entries: 0, complete: [], partial: [], missingAcked: [], dangling: 0, tools: tools && haveTools(), problems }

  // A writer killed before it created the store leaves no data file: an empty
  // store (unless something was acknowledged). The next open() creates it.
  if (!fs.existsSync(path.join(dir, 'data.mdb'))) {
    report.noDataFile = true
    for (const seq of acked) report.missingAcked.push(seq)
    if (report.missingAcked.length) problems.push(`no data.mdb, but acknowledged: ${report.missingAcked.join(', ')}`)
    if (!open) return report
    try {
      open(dir).close()
    } catch (err) {
      problems.push(`open() of a directory without data.mdb failed: ${err && err.stack}`)
      return report
    }
  }

  // 1. LMDB's tools
  onStage('tools')
  if (report.tools) {
    const st = mdbStat(dir)
    report.mdbStat = st
    if (!st.ok) problems.push(`mdb_stat failed: ${st.error}`)
    else if (!st.balanced) problems.push(`page accounting: ${st.pagesUsed} pages used, ${st.accounted} accounted for`)
  }

  // 2. the raw walk
  let pairs
  let store
  if (report.tools) {
    try {
      pairs = mdbDump(dir, 'data')
      const meta = mdbDump(dir, 'meta')
      const fv = meta.find(([k]) => k.toString() === 'format-version')
      const id = meta.find(([k]) => k.toString() === 'store-id')
      // format-version, the store id (16 random bytes) and, once used, the change log's keys
      const known = new Set(['format-version', 'store-id', 'change-log', 'change-log-floor'])
      if (!fv || fv[1].length !== 4 || fv[1].readUInt32LE(0) !== 1 || !id || id[1].length !== 16 || meta.some(([k]) => !known.has(k.toString()))) {
        problems.push(`meta database is not { format-version: 1, store-id: 16 bytes }: ${JSON.stringify(meta.map(([k, v]) => [k.toString(), v.toString('hex')]))}`)
      }
    } catch (err) {
      pairs = undefined
      problems.push(`raw walk failed: ${err && err.message}`)
    }
  }
  // The library's view runs even when the tools failed: how it treats a damaged
  // store (typed error, or a crash of this process) is part of what is measured.
  onStage('library')
  try {
    if (open) {
      store = open(dir)
      report.libraryOpened = true
    }
    if (!pairs && store) pairs = libraryEntries(store)
  } catch (err) {
    problems.push(`the library cannot ${store ? 'walk' : 'open'} the store: ${err && err.name}: ${err && err.message}`)
    report.libraryError = err && err.name
    if (store) store.close()
    return report
  }
  if (!pairs) return report
  report.entries = pairs.length
  if (report.mdbStat?.ok && report.mdbStat.entries.data !== undefined && report.mdbStat.entries.data !== pairs.length) {
    problems.push(`mdb_stat says data has ${report.mdbStat.entries.data} entries, mdb_dump walked ${pairs.length}`)
  }

  const keys = new Set(pairs.map(([k]) => k.toString()))
  const present = new Map() // seq → Set of its keys that hold the right bytes
  const wrong = new Map() // seq → [key: why]
  const expectedOf = new Map()
  const expected = (seq) => {
    let e = expectedOf.get(seq)
    if (!e) expectedOf.set(seq, (e = W.expectedEntries(seq)))
    return e
  }
  for (const [kb, v] of pairs) {
    const key = kb.toString()
    const tag = v[0]
    if (tag !== W.TAG.simple && tag !== W.TAG.group && tag !== W.TAG.link) {
      problems.push(`${key}: unknown tag byte ${tag}`)
      continue
    }
    if (tag === W.TAG.link && !keys.has(v.subarray(1).toString())) {
      report.dangling++
      problems.push(`dangling link ${key} → ${v.subarray(1).toString()}`)
    }
    const seq = seqOfKey(key, maxSeq)
    if (seq === undefined) {
      if (!allowKey(key)) problems.push(`unexplained key ${key}`)
      continue
    }
    const want = expected(seq).get(key)
    let why
    if (want === undefined) why = 'not a key of its message'
    else if (tag !== want.tag) why = `tag ${tag}, expected ${want.tag}`
    else if (!v.subarray(1).equals(want.payload)) {
      const f = tag === W.TAG.simple ? W.parseFieldValue(v.subarray(1).toString()) : undefined
      why = f && !f.ok ? 'checksum mismatch (torn or corrupted value)' : 'wrong bytes'
    }
    if (why) {
      if (!wrong.has(seq)) wrong.set(seq, [])
      wrong.get(seq).push(`${key}: ${why}`)
      continue
    }
    if (!present.has(seq)) present.set(seq, new Set())
    present.get(seq).add(key)
  }
  const touched = new Set([...present.keys(), ...wrong.keys()])
  for (const seq of [...touched].sort((a, b) => a - b)) {
    const have = present.get(seq)?.size ?? 0
    if (have === W.KEYS_PER_MESSAGE && !wrong.has(seq)) report.complete.push(seq)
    else {
      report.partial.push(seq)
      problems.push(`message ${seq} is partial: ${have}/${W.KEYS_PER_MESSAGE} keys` +
        (wrong.has(seq) ? `; ${wrong.get(seq).join('; ')}` : ''))
    }
  }
  const complete = new Set(report.complete)
  // A message's `prev` link names the message before it: that one must be whole.
  for (const seq of report.complete) {
    if (seq > 0 && !complete.has(seq - 1)) problems.push(`message ${seq} links to message ${seq - 1}, which is not complete`)
  }
  for (const seq of acked) {
    if (!complete.has(seq)) report.missingAcked.push(seq)
  }
  if (report.missingAcked.length) problems.push(`acknowledged but missing: ${report.missingAcked.join(', ')}`)

  // 3. the library's view
  if (store) {
    try {
      libraryCheck(store, report, complete, pairs.length, maxSeq, libraryDepth)
    } catch (err) {
      problems.push(`library check threw: ${err && err.stack ? err.stack : err}`)
    } finally {
      store.close()
    }
  }
  return report
}

function libraryCheck (store, report, complete, rawCount, maxSeq, depth) {
  const problems = report.problems
  const st = store.stat()
  if (st.entries !== rawCount) problems.push(`store.stat().entries = ${st.entries}, raw walk found ${rawCount}`)
  const ids = [...complete].map((s) => W.idOf(s)).sort()
  const bytewise = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))
  const listed = store.list('msg')
  const wantIds = [...new Set([...complete, ...report.partial].map((s) => W.idOf(s)))].sort(bytewise)
  if (JSON.stringify(listed) !== JSON.stringify(wantIds)) problems.push(`list('msg') has ${listed.length} ids, expected ${wantIds.length}`)
  const bySeq = store.list('by-seq')
  const wantSeqs = [...complete].sort((a, b) => a - b).map(W.pad)
  if (report.partial.length === 0 && JSON.stringify(bySeq) !== JSON.stringify(wantSeqs)) {
    problems.push(`list('by-seq') = ${bySeq.length} names, expected ${wantSeqs.length}`)
  }
  const children = ['prev', ...Array.from({ length: W.FIELDS }, (_, i) => `f${i}`)].sort()
  let checked = 0
  for (const seq of complete) {
    if (depth !== 'full' && checked >= 50 && seq < Math.max(...complete) - 50) continue
    const m = W.message(seq)
    const via = `by-seq/${W.pad(seq)}`
    if (store.type(via, { follow: false }) !== 'link' || store.type(via) !== 'group') problems.push(`${via}: wrong types`)
    for (let i = 0; i < W.FIELDS; i++) {
      if (store.readString(`${via}/f${i}`) !== m.fields[`f${i}`]) problems.push(`${via}/f${i} reads wrong through the link`)
    }
    const hashLink = m.links[2].path
    if (store.resolve(hashLink) !== `${m.path}/f1` || store.readString(hashLink) !== m.fields.f1) problems.push(`${hashLink} resolves wrong`)
    if (JSON.stringify(store.list(m.path)) !== JSON.stringify(children)) problems.push(`list(${m.path}) is wrong`)
    if (seq > 0 && store.readString(`${m.path}/prev/f0`) !== W.fieldValue(seq - 1, 0)) problems.push(`${m.path}/prev/f0 reads wrong`)
    checked++
  }
  for (let seq = 0; seq <= maxSeq; seq++) {
    if (complete.has(seq) || report.partial.includes(seq)) continue
    if (store.exists(`msg/${W.idOf(seq)}`) || store.exists(`by-seq/${W.pad(seq)}`)) problems.push(`absent message ${seq} exists through the library`)
  }
  report.libraryChecked = checked
}

module.exports = { verifyStore, mdbStat, mdbDump, haveTools, seqOfKey }
