'use strict'
// Derived figures: ratios of lmdb-txn to each peer (same run, same group),
// physical limits from the fdatasync probe, and the targets of the issues (6, 16, 17).
const { SUBJECT } = require('../peers')
const { formatRatio, formatRate, formatMs } = require('./format')

// lmdb-js's durable group-commit row (SPEC §10: compare against it)
const LMDB_JS_DURABLE_1C = 'transaction() + await db.flushed'

const ok = row => row && row.status === 'ok'
const POINT_SCENARIOS = ['5f', '5s', '6', '7']

// the lmdb-txn row a peer row is compared with: same group, the same variant
// label when lmdb-txn has one (scenario 4), else lmdb-txn's first row
function subjectFor (scenario, row) {
  const mine = scenario.rows.filter(r => r.peer === SUBJECT && r.group === row.group)
  return mine.find(r => r.variant === row.variant) || mine[0]
}

function physicalLimit (result, fsync) {
  if (!fsync || !fsync.overwrite || !result.commitsPerMessage || !result.syncsPerCommit) return
  // an upper bound: every sync costs one overwrite-in-place fdatasync
  result.limitPerSec = 1000 / (result.commitsPerMessage * result.syncsPerCommit * fsync.overwrite.meanMs)
  result.ofLimit = result.opsPerSec / result.limitPerSec
}

function pointRatios (scenario) {
  for (const row of scenario.rows) {
    const subject = scenario.rows.find(r => r.peer === SUBJECT && r.group === row.group)
    if (!ok(row) || !ok(subject) || row === subject) continue
    row.result.points.forEach((p, i) => {
      const s = subject.result.points[i]
      if (!s) return
      if (scenario.id === '5f') p.ratio = s.opsPerSec / p.opsPerSec
      if (scenario.id === '5s') { p.write.ratio = s.write.opsPerSec / p.write.opsPerSec; p.read.ratio = s.read.opsPerSec / p.read.opsPerSec }
    })
  }
}

function target (id, text, goal, measure) {
  let m
  try { m = measure() } catch (e) { m = { missing: e.message } }
  if (!m || m.missing) return { id, text, goal, met: null, note: `not measured${m && m.missing ? ': ' + m.missing : ''}` }
  // m.atMost: the goal is an upper bound (a delay), not a floor
  const met = m.atMost ? m.value <= goal : m.value >= goal
  const sign = m.atMost ? '≤' : '≥'
  let note = met
    ? `met: ${m.show(m.value)} (goal ${sign} ${m.show(goal)})`
    : m.atMost
      ? `missed: ${m.show(m.value)} vs goal ≤ ${m.show(goal)} — ${(m.value / goal).toFixed(2)}× over`
      : `missed: ${m.show(m.value)} vs goal ≥ ${m.show(goal)} — ${Math.round((1 - m.value / goal) * 100)}% short, needs ${(goal / m.value).toFixed(2)}× more`
  if (m.rows && goal === 1 && overlap(...m.rows)) note += ' (within run-to-run noise: the two rows\' rounds overlap)'
  return { id, text, goal, value: m.value, met, detail: m.detail, note }
}

// whether the per-round figures of two rows overlap
function overlap (a, b) {
  if (!a.rounds || !b.rounds) return false
  return Math.min(...a.rounds) <= Math.max(...b.rounds) && Math.min(...b.rounds) <= Math.max(...a.rounds)
}

function need (row, what) {
  if (!row) throw new Error(`${what}: no row`)
  if (!ok(row)) throw new Error(`${what} ${row.status}${row.reason ? ' (' + row.reason + ')' : ''}`)
  return row.result
}

function targets (byId) {
  const rows = id => (byId[id] ? byId[id].rows : [])
  const random = id => rows(id).filter(r => !r.group)
  const mine = id => random(id).filter(r => r.peer === SUBJECT && ok(r) && r.result.durable !== false)
  const best = list => list.filter(ok).sort((a, b) => b.result.opsPerSec - a.result.opsPerSec)[0]
  return [
    target('1b-vs-peers', '1b: lmdb-txn ≥ 1.0× the best peer at the same durability', 1, () => {
      const a = best(mine('1b')); const b = best(random('1b').filter(r => r.peer !== SUBJECT && r.result?.durable !== false))
      need(a, 'lmdb-txn 1b'); need(b, 'peer 1b')
      return { rows: [a, b], value: a.result.opsPerSec / b.result.opsPerSec, show: formatRatio, detail: `lmdb-txn ${a.variant} ${formatRate(a.result.opsPerSec)} msg/s vs ${b.peer} ${b.variant} ${formatRate(b.result.opsPerSec)} msg/s` }
    }),
    target('1b-vs-1a', '1b: lmdb-txn one transaction per message ≥ 10× one transaction per key (1a)', 10, () => {
      const a = need(random('1b').find(r => r.peer === SUBJECT), 'lmdb-txn 1b'); const b = need(random('1a').find(r => r.peer === SUBJECT), 'lmdb-txn 1a')
      return { value: a.opsPerSec / b.opsPerSec, show: formatRatio, detail: `${formatRate(a.opsPerSec)} vs ${formatRate(b.opsPerSec)} msg/s` }
    }),
    target('1c-vs-lmdb-js', '1c: lmdb-txn group commit ≥ 1.6× lmdb-js durable (`transaction()` + `await db.flushed`) (issue 16)', 1.6, () => {
      const ra = mine('1c')[0]; const rb = random('1c').find(r => r.peer === 'lmdb-js' && r.variant === LMDB_JS_DURABLE_1C)
      const a = need(ra, 'lmdb-txn 1c'); const b = need(rb, `lmdb-js ${LMDB_JS_DURABLE_1C}`)
      let detail = `${formatRate(a.opsPerSec)} vs ${formatRate(b.opsPerSec)} msg/s`
      const g = a.groupCommit
      if (g && g.callbacksPerBatch > 0) {
        // the writer thread holds LMDB's lock for apply + commit: even with the
        // JS thread's work fully overlapped, batches cannot come faster
        const busy = g.writerApplyMsPerBatch + g.writerCommitMsPerBatch
        const ceiling = g.callbacksPerBatch / busy * 1000
        detail += `; per batch of ${g.callbacksPerBatch.toFixed(0)}: JS ${formatMs(g.jsMsPerBatch)}, writer apply ${formatMs(g.writerApplyMsPerBatch)} + commit ${formatMs(g.writerCommitMsPerBatch)}` +
          ` → writer-bound ceiling ${formatRate(ceiling)} msg/s = ${formatRatio(ceiling / b.opsPerSec)} lmdb-js`
      }
      return { rows: [ra, rb], value: a.opsPerSec / b.opsPerSec, show: formatRatio, detail }
    }),
    target('1c-loop-delay', '1c: event-loop delay p99 ≤ 2 ms while lmdb-txn group-commits (issue 16)', 2, () => {
      const a = need(mine('1c')[0], 'lmdb-txn 1c')
      if (!a.delay) throw new Error('lmdb-txn 1c: no delay recorded')
      const b = random('1c').find(r => r.peer === 'lmdb-js' && r.variant === LMDB_JS_DURABLE_1C)
      return { atMost: true, value: a.delay.p99Ms, show: formatMs, detail: ok(b) && b.result.delay ? `lmdb-js ${LMDB_JS_DURABLE_1C}: ${formatMs(b.result.delay.p99Ms)}` : undefined }
    }),
    target('2-vs-node-lmdb', '2: lmdb-txn puts in one transaction ≥ 1.0× node-lmdb', 1, () => {
      const ra = rows('2').find(r => r.peer === SUBJECT); const rb = rows('2').find(r => r.peer === 'node-lmdb')
      const a = need(ra, 'lmdb-txn 2'); const b = need(rb, 'node-lmdb')
      return { rows: [ra, rb], value: a.opsPerSec / b.opsPerSec, show: formatRatio, detail: `${formatRate(a.opsPerSec)} vs ${formatRate(b.opsPerSec)} puts/s` }
    }),
    target('3-vs-lmdb-js', '3: lmdb-txn store.read ≥ 1.0× lmdb-js get', 1, () => {
      const ra = rows('3').find(r => r.peer === SUBJECT && r.variant === 'read()'); const rb = rows('3').find(r => r.peer === 'lmdb-js' && r.variant === 'get()')
      const a = need(ra, 'lmdb-txn read()'); const b = need(rb, 'lmdb-js get()')
      return { rows: [ra, rb], value: a.opsPerSec / b.opsPerSec, show: formatRatio, detail: `${formatRate(a.opsPerSec)} vs ${formatRate(b.opsPerSec)} reads/s` }
    }),
    target('8a-vs-lmdb-js', '8a: lmdb-txn readMessage ≥ 2× lmdb-js getRange over the same keys (issue 17)', 2, () => {
      const ra = rows('8a').find(r => r.peer === SUBJECT && r.variant === 'readMessage()'); const rb = rows('8a').find(r => r.peer === 'lmdb-js')
      const a = need(ra, 'lmdb-txn readMessage()'); const b = need(rb, 'lmdb-js getRange')
      return { rows: [ra, rb], value: a.opsPerSec / b.opsPerSec, show: formatRatio, detail: `${formatRate(a.opsPerSec)} vs ${formatRate(b.opsPerSec)} msg/s` }
    }),
    target('8a-vs-list-read', '8a: lmdb-txn readMessage ≥ 3× its own list() + read() (issue 17)', 3, () => {
      const ra = rows('8a').find(r => r.peer === SUBJECT && r.variant === 'readMessage()'); const rb = rows('8a').find(r => r.peer === SUBJECT && r.variant === 'list() + read()')
      const a = need(ra, 'lmdb-txn readMessage()'); const b = need(rb, 'lmdb-txn list() + read()')
      return { rows: [ra, rb], value: a.opsPerSec / b.opsPerSec, show: formatRatio, detail: `${formatRate(a.opsPerSec)} vs ${formatRate(b.opsPerSec)} msg/s` }
    }),
    target('4-inserts', '4: ≥ 5,000 durable inserts/s with recall@10 ≥ 0.9', 5000, () => {
      const valid = rows('4').filter(r => r.peer === SUBJECT && ok(r) && r.result.valid)
      if (!valid.length) {
        const any = rows('4').filter(r => r.peer === SUBJECT)
        throw new Error(any.length ? `no lmdb-txn row with recall ≥ 0.9 (${any.map(r => r.status === 'ok' ? 'recall ' + r.result.recallAt10.toFixed(3) : r.status).join(', ')})` : 'no lmdb-txn row')
      }
      const b = best(valid)
      return { value: b.result.opsPerSec, show: x => formatRate(x) + '/s', detail: `${b.variant}, recall@10 ${b.result.recallAt10.toFixed(3)}` }
    })
  ]
}

function analyze (results) {
  const fsync = results.meta.fsync
  const byId = Object.fromEntries(results.scenarios.map(s => [s.id, s]))
  for (const s of results.scenarios) {
    if (POINT_SCENARIOS.includes(s.id)) { if (s.id === '5f' || s.id === '5s') pointRatios(s); continue }
    for (const row of s.rows) {
      if (!ok(row)) continue
      physicalLimit(row.result, fsync)
      const subject = subjectFor(s, row)
      if (ok(subject) && subject !== row) {
        row.ratio = subject.result.opsPerSec / row.result.opsPerSec
        row.ratioTo = subject.variant
      }
    }
  }
  results.targets = targets(byId)
  return results
}

module.exports = { analyze, subjectFor, ok }
