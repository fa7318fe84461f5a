'use strict'
// bench/results/<name>.md: the summary a person reads in ten seconds, then
// one table per scenario with its workload.
const { SUBJECT, adapters } = require('../peers')
const { ok } = require('./analyze')
const { formatRate, formatMs, formatRatio, formatInt } = require('./format')

const PEERS = adapters.filter(a => a.name !== SUBJECT && !a.reference).map(a => a.name)
const RATIO_SCENARIOS = ['1a', '1b', '1c', '2', '3', '4']

function table (head, rows) {
  const line = cells => '| ' + cells.join(' | ') + ' |'
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n')
}

function status (row) {
  return `${row.status}${row.reason ? ': ' + row.reason.replace(/\|/g, '\\|') : ''}`
}

function header (results) {
  const m = results.meta
  const peers = Object.entries(m.peers || {}).filter(([n]) => n !== 'in-memory Map')
    .map(([n, p]) => `${n} ${p.version || '?'}${p.available ? '' : ' (skipped: ' + p.reason + ')'}`).join(' · ')
  const f = m.fsync || {}
  const lines = [
    `# lmdb-txn benchmark — ${m.mode} run`,
    '',
    `${m.date.slice(0, 10)} · ${m.wallSeconds} s · Node ${m.node} · ${m.cpu} × ${m.cpuCount} · ${m.memoryGiB} GiB · ${m.platform} · temp fs ${m.fileSystem.type} (${m.fileSystem.device} on ${m.fileSystem.mount}) · load average at start ${m.loadAverage.join(' ')} · lmdb-txn ${m.peers?.[SUBJECT]?.version || '?'} @ ${m.commit || '?'}${m.dirty ? ' (uncommitted native/lib changes)' : ''}`,
    '',
    `Peers: ${peers}`,
    ''
  ]
  if (m.busy) lines.push(`⚠️ The machine was busy (${m.busy}): figures are noisy.`, '')
  if (f.overwrite) {
    lines.push(`fdatasync of the temp fs, measured in this run: overwrite ${formatMs(f.overwrite.meanMs)} (p99 ${formatMs(f.overwrite.p99Ms)}), append ${formatMs(f.append.meanMs)} (p99 ${formatMs(f.append.p99Ms)}). ` +
      (m.fsyncAtEnd ? `At the end of the run: overwrite ${formatMs(m.fsyncAtEnd.overwrite.meanMs)}, append ${formatMs(m.fsyncAtEnd.append.meanMs)}. ` : '') +
      `Physical limit of one durable commit: LMDB \`sync\` waits for 2 syncs (data, then meta page) ≈ ${formatRate(1000 / (2 * f.overwrite.meanMs))}/s; \`nometasync\`, SQLite WAL and LevelDB 1 sync ≈ ${formatRate(1000 / f.overwrite.meanMs)}/s (upper bounds: every sync priced as an overwrite).`, '')
  }
  if (f.scattered && f.contiguous) {
    lines.push(`One group commit's data sync on this fs: ${f.scattered.pages} scattered 4 KiB page writes + fdatasync ${formatMs(f.scattered.meanMs)}, the same number contiguous ${formatMs(f.contiguous.meanMs)} ` +
      `(${(f.scattered.meanMs / f.contiguous.meanMs).toFixed(1)}×). LMDB reuses freed pages, which random keys scatter over the file, so a durable commit of many random keys pays the scattered price.`, '')
  }
  lines.push('Durable = the call or promise returns only after the data is on disk: LMDB (lmdb-txn, lmdb-js with `overlappingSync: false`, node-lmdb) in its default sync mode, better-sqlite3 in WAL mode with `synchronous=FULL`, classic-level with `{ sync: true }`. Rows marked *reference only* are not durable in that sense (the note says why) and are not counted in targets or summaries. Ratios are lmdb-txn ÷ peer from this same run (> 1 means lmdb-txn is faster).', '')
  return lines.join('\n')
}

function targetsTable (results) {
  const icon = t => t.met === true ? '✅' : t.met === false ? '❌' : '⚪'
  return table(['target (issue)', 'result'], results.targets.map(t => [t.text, `${icon(t)} ${t.note}${t.detail ? ' — ' + t.detail : ''}`]))
}

// the fastest durable row of a peer in a scenario (random ids only)
function fastest (s, peer) {
  const rows = s.rows.filter(r => r.peer === peer && !r.group)
  const durable = rows.filter(r => ok(r) && r.result.durable !== false && r.result.valid !== false)
  return { rows, best: durable.sort((a, b) => b.result.opsPerSec - a.result.opsPerSec)[0] }
}

// per scenario: lmdb-txn's fastest durable row ÷ each peer's fastest durable row
function summaryTable (results) {
  const rows = []
  for (const s of results.scenarios.filter(s => RATIO_SCENARIOS.includes(s.id))) {
    const mine = fastest(s, SUBJECT)
    const mineText = mine.best ? `${formatRate(mine.best.result.opsPerSec)} ${s.unit} (${mine.best.variant})` : (mine.rows[0] ? mine.rows[0].status : '—')
    const cells = PEERS.map(p => {
      const theirs = fastest(s, p)
      if (!theirs.rows.length) return ''
      if (!theirs.best) return theirs.rows[0].status === 'ok' ? '—' : theirs.rows[0].status
      return mine.best ? `**${formatRatio(mine.best.result.opsPerSec / theirs.best.result.opsPerSec)}**` : '—'
    })
    rows.push([`${s.id} ${s.title}`, mineText, ...cells])
  }
  return table(['scenario', 'lmdb-txn (fastest durable row)', ...PEERS], rows)
}

function refMark (r) {
  return ok(r) && r.result.durable === false ? ` *(${r.result.note || 'not durable'}; reference only)*` : ''
}

function latencyCols (r) {
  return [formatMs(r.meanMs), formatMs(r.p99Ms)]
}

function paramsText (s) {
  const p = (s.rows[0] || {}).params || {}
  return Object.entries(p).filter(([k]) => k !== 'kind').map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('/') : v}`).join(', ')
}

function standardTable (s) {
  const extra4 = s.id === '4'
  const durableCol = s.rows.some(r => ok(r) && r.result.limitPerSec)
  const roundsCol = s.rows.some(r => r.rounds)
  const writtenCol = s.rows.some(r => ok(r) && r.result.writtenKiBPerMessage != null)
  const head = ['peer', 'API', s.unit, 'mean', 'p99', 'lmdb-txn ÷']
  if (roundsCol) head.splice(3, 0, 'rounds (min–max)')
  if (durableCol) head.push('of physical limit')
  if (writtenCol) head.push('KiB written / msg')
  if (extra4) head.push('recall@10', 'reads / writes per insert')
  const rows = s.rows.map(r => {
    const api = r.variant + (r.group ? ` (${r.group})` : '') + refMark(r)
    if (!ok(r)) return [r.peer, api, status(r), '', '', '', ...(roundsCol ? [''] : []), ...(durableCol ? [''] : []), ...(writtenCol ? [''] : []), ...(extra4 ? ['', ''] : [])]
    const res = r.result
    const cells = [r.peer, api, formatRate(res.opsPerSec), ...latencyCols(res), r.ratio != null ? formatRatio(r.ratio) : '—']
    if (roundsCol) cells.splice(3, 0, r.rounds ? `${formatRate(Math.min(...r.rounds))}–${formatRate(Math.max(...r.rounds))}` : '')
    if (durableCol) cells.push(res.limitPerSec ? `${Math.round(res.ofLimit * 100)}% of ${formatRate(res.limitPerSec)}` : '')
    if (writtenCol) cells.push(res.writtenKiBPerMessage != null ? res.writtenKiBPerMessage.toFixed(1) : '')
    if (extra4) cells.push(`${res.recallAt10.toFixed(3)}${res.valid ? '' : ' ❌ invalid'}`, `${res.readsPerInsert.toFixed(0)} / ${res.writesPerInsert.toFixed(0)}`)
    return cells
  })
  return table(head, rows)
}

function fieldsTable (s) {
  const fields = s.rows.find(ok)?.result.points.map(p => p.fields) || []
  const head = ['peer', 'API', ...fields.map(f => `${f} field${f === 1 ? '' : 's'}`)]
  const rows = s.rows.map(r => !ok(r)
    ? [r.peer, r.variant, status(r), ...fields.slice(1).map(() => '')]
    : [r.peer, r.variant, ...r.result.points.map(p => `${formatRate(p.opsPerSec)} msg/s, p99 ${formatMs(p.p99Ms)}${p.ratio != null ? ` (${formatRatio(p.ratio)})` : ''}`)])
  return table(head, rows) + '\n\nCells: messages/s, p99 latency, (lmdb-txn ÷ peer).'
}

function sizeTable (s) {
  const rows = []
  for (const r of s.rows) {
    if (!ok(r)) { rows.push([r.peer, '', status(r), '', '', '']); continue }
    for (const p of r.result.points) {
      rows.push([r.peer, formatInt(p.size),
        `${formatRate(p.write.opsPerSec)}${p.write.ratio != null ? ` (${formatRatio(p.write.ratio)})` : ''}`, formatMs(p.write.p99Ms),
        `${formatRate(p.read.opsPerSec)}${p.read.ratio != null ? ` (${formatRatio(p.read.ratio)})` : ''}`, `${formatMs(p.read.meanMs)} / ${formatMs(p.read.p99Ms)}`])
    }
  }
  return table(['peer', 'messages in store', 'durable writes msg/s (lmdb-txn ÷)', 'write p99', 'reads/s (lmdb-txn ÷)', 'read mean / p99'], rows)
}

function delayTable (s) {
  const rows = s.rows.map(r => {
    const api = `${r.group}: ${r.variant}${refMark(r)}`
    if (!ok(r)) return [r.peer, api, status(r), '', '', '']
    const d = r.result.delay
    return [r.peer, api, formatRate(r.result.opsPerSec), formatMs(d.p50Ms), formatMs(d.p99Ms), formatMs(d.maxMs)]
  })
  return table(['peer', 'API', 'msg/s', 'loop delay p50', 'p99', 'max'], rows)
}

/** Scenario 7: each transport's replicated rate beside the local group-commit row (change log on) of the same run. */
function replicationTable (s) {
  const local = s.rows.find(r => ok(r) && r.result.lag === undefined)
  const rows = s.rows.map(r => {
    if (!ok(r)) return [r.variant, status(r), '', '', '']
    const x = r.result
    const ratio = local && x.lag !== undefined ? formatRatio(x.opsPerSec / local.result.opsPerSec) : ''
    return [r.variant, formatRate(x.opsPerSec), ratio, x.lag ? formatMs(x.lag.p50Ms) : '', x.lag ? formatMs(x.lag.p99Ms) : '']
  })
  return table(['rows', 'msg/s (replica-visible for replication rows)', `÷ ${local ? local.variant : 'local'}`, 'lag p50', 'lag p99'], rows)
}

/** Scenario 9: each copy method's MB/s and its ratio to cp of the same file in the same job. */
function backupTable (s) {
  const rows = []
  for (const r of s.rows) {
    if (!ok(r)) { rows.push([r.variant, status(r), '', '', '']); continue }
    const b = r.result.backup
    const load = `${b.load.start[0].toFixed(2)} → ${b.load.end[0].toFixed(2)}`
    const during = b.writers ? `${formatInt(b.commitsDuringCopies)} commits, ${b.copiesChecked} copies checked` : ''
    rows.push([`${r.variant}: backup()`, `${formatRate(b.plain.MBps)} (${b.plain.MB.toFixed(0)} MB)`, formatRatio(b.plainVsCp), during, load])
    rows.push([`${r.variant}: backup({ compact })`, `${formatRate(b.compact.MBps)} (${b.compact.MB.toFixed(0)} MB)`, `${formatRatio(b.compactVsCp)} (time ${formatRatio(b.compactTimeVsCp)})`, '', ''])
    rows.push([`${r.variant}: cp + fsync${b.writers ? ' (not consistent)' : ''}`, `${formatRate(b.cp.MBps)} (${b.cp.MB.toFixed(0)} MB)`, '1×', '', ''])
  }
  return table(['copy', 'MB/s (bytes written)', '÷ cp, same job', 'during the copies', 'load average 1 min'], rows)
}

function scenarioSection (s) {
  const body = s.id === '5f' ? fieldsTable(s) : s.id === '5s' ? sizeTable(s) : s.id === '6' ? delayTable(s) : s.id === '7' ? replicationTable(s) : s.id === '9' ? backupTable(s) : standardTable(s)
  return [`## ${s.id} — ${s.title}`, '', `Workload: ${s.describe}. Parameters: ${paramsText(s)}.`, '', body, ''].join('\n')
}

function render (results) {
  return [
    header(results),
    '## Targets', '', targetsTable(results), '',
    '## Summary: lmdb-txn\'s fastest durable row ÷ each peer\'s fastest durable row', '', summaryTable(results), '',
    ...results.scenarios.map(scenarioSection),
    '## Method', '',
    'Each scenario × peer runs in a fresh child process (`bench/child.js`) on a fresh directory under the OS temp dir, with a warm-up first. ' +
    'Durable writes are timed call by call with tinybench (ops/s = calls ÷ measured time; with 64 concurrent writers, calls ÷ wall time). ' +
    'Microsecond operations (scenarios 2 and 3) take ops/s from an untimed loop over all keys (scenario 2 includes the commit) and mean/p99 from a second pass timed op by op. ' +
    'All peers get the same keys and bytes (seeded PRNG). "of physical limit" divides by 1 ÷ (commits × syncs per commit × fdatasync time).', ''
  ].join('\n')
}

function summary (results) {
  return ['Targets:', targetsTable(results), '', summaryTable(results)].join('\n')
}

module.exports = { render, summary }
