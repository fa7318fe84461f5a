'use strict'
/**
 * Consistency checks of a store after a crash, a fault or a simulated
 * power loss. Three independent views:
 *
 *  1. LMDB's own view, through the project's CLI in a child process
 *     (`lmdb-txn check --deep --lmdb-only`, what `mdb_stat -efa` reports):
 *     it must succeed, and its page accounting must balance: every page below
 *     the high-water mark is a meta page, a page of some tree (main, data,
 *     meta, free list) or a listed free page — a torn or leaked commit
 *     shows up as a difference.
 *  2. A raw walk: `lmdb-txn dump --format mdb -a` (mdb_dump's format) of the
 *     `data` and `meta` databases, decoded
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

// A damaged store can make LMDB loop; bound the child (a healthy walk takes well under a second).
const TOOL_TIMEOUT_MS = 15_000
const CLI = path.join(__dirname, '..', '..', '..', 'bin', 'lmdb-txn.js')
function cli (args) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: TOOL_TIMEOUT_MS, maxBuffer: 1 << 30 })
}

/**
 * `lmdb-txn check --deep --lmdb-only --json`: ok, and whether the page
 * accounting balances. With `pkg` (a package root), the same code runs in
 * this process instead of a CLI child: only for a process that has not
 * opened `dir` through the library (children/verifier.cjs, which checks the
 * raw view of an image before it opens it, and survives a crash by restart).
 */
function mdbStat (dir, pkg) {
  let report
  if (pkg) {
    const deep = require(path.join(pkg, 'dist', 'cli', 'check.js')).deepCheck(path.resolve(dir))
    report = { errors: deep.problems, lmdb: deep.summary }
    if (!report.lmdb) return { ok: false, error: `check --deep: ${deep.problems.join('; ')}` }
  } else {
    const r = cli(['check', '--deep', '--lmdb-only', '--json', '--no-progress', dir])
    if (r.error) return { ok: false, error: String(r.error) }
    try { report = JSON.parse(r.stdout) } catch {}
    if (!report || !report.lmdb) return { ok: false, error: `check --deep exited ${r.status} ${r.signal ?? ''}: ${(report?.errors ?? []).join('; ')} ${r.stderr.trim()}` }
  }
  const l = report.lmdb
  const entries = {}
  for (const d of l.databases) entries[d.name === null ? 'main' : d.name] = d.entries
  return { ok: true, pagesUsed: l.pagesUsed, accounted: l.accounted, balanced: l.balanced, readers: l.readerSlotsInUse, entries }
}

/** `lmdb-txn dump --format mdb -a` decoded: database name → [key, value] Buffers, in key order. `pkg`: as for mdbStat. */
function mdbDumpAll (dir, pkg) {
  if (pkg) {
    const dbs = {}
    for (const db of require(path.join(pkg, 'dist', 'native.js')).addon.raw.dump(path.resolve(dir), [])) {
      const pairs = []
      for (let i = 0; i < db.pairs.length; i += 2) pairs.push([db.pairs[i], db.pairs[i + 1]])
      dbs[db.name] = pairs
    }
    return dbs
  }
  const r = cli(['dump', '--format', 'mdb', '-a', dir])
  if (r.error) throw r.error
  if (r.status !== 0) throw new Error(`dump --format mdb -a exited ${r.status} ${r.signal ?? ''}: ${r.stderr.trim()}`)
  const lines = r.stdout.split('\n')
  const dbs = {}
  let i = 0
  while (i < lines.length && lines[i] === 'VERSION=3') {
    let name = null
    for (i++; i < lines.length && lines[i] !== 'HEADER=END'; i++) {
      if (lines[i].startsWith('database=')) name = lines[i].slice('database='.length)
    }
    if (i >= lines.length) throw new Error('dump: no HEADER=END')
    const pairs = []
    for (i++; i < lines.length && lines[i] !== 'DATA=END'; i += 2) {
      if (lines[i][0] !== ' ' || lines[i + 1]?.[0] !== ' ') throw new Error(`dump: bad line ${i}`)
      pairs.push([Buffer.from(lines[i].slice(1), 'hex'), Buffer.from(lines[i + 1].slice(1), 'hex')])
    }
    if (lines[i] !== 'DATA=END') throw new Error('dump: no DATA=END')
    dbs[name] = pairs
    i++
  }
  if (lines.slice(i).join('') !== '') throw new Error(`dump: unexpected line ${i}`)
  return dbs
}

/** The entries as the library sees them (the raw walk's stand-in when the caller passes tools: false). */
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
 *   tools     false: skip LMDB's view (the library's view only; the report says tools: false)
 *   rawInProcess  a package root: LMDB's view in this process (see mdbStat)
 * Returns counts and `problems` (strings; empty when the store is good).
 */
function verifyStore (dir, { open, maxSeq, acked = [], allowKey = () => false, libraryDepth = 'full', onStage = () => {}, tools = true, rawInProcess } = {}) {
  const problems = []
  const report = { entries: 0, complete: [], partial: [], missingAcked: [], dangling: 0, tools, problems }

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
    const st = mdbStat(dir, rawInProcess)
    report.mdbStat = st
    if (!st.ok) problems.push(`mdb_stat (check --deep) failed: ${st.error}`)
    else if (!st.balanced) problems.push(`page accounting: ${st.pagesUsed} pages used, ${st.accounted} accounted for`)
  }

  // 2. the raw walk
  let pairs
  let store
  if (report.tools) {
    try {
      const dbs = mdbDumpAll(dir, rawInProcess)
      pairs = dbs.data
      const meta = dbs.meta
      if (!pairs || !meta) throw new Error(`databases ${Object.keys(dbs).join(', ')}; expected data and meta`)
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
    problems.push(`LMDB says data has ${report.mdbStat.entries.data} entries, the raw dump walked ${pairs.length}`)
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

module.exports = { verifyStore, mdbStat, mdbDumpAll, seqOfKey }
