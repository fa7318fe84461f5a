#!/usr/bin/env node
'use strict'
// npm run bench [-- --quick] [--only=1b,3] [--peers=lmdb-txn,lmdb-js] [--out=DIR] [--no-install]
//   (--only 1c and --peers lmdb-txn,lmdb-js work too: `node bench/run.js --only 1c`)
// Runs every scenario × peer in a fresh child process on a fresh temporary
// directory, then writes <out>/latest.{json,md,svg} (quick.* with --quick).
const fs = require('fs')
const path = require('path')
const { fork } = require('child_process')
const scenarios = require('./scenarios')
const { SUBJECT } = require('./peers')
const { systemInfo } = require('./lib/system')
const { analyze } = require('./report/analyze')
const { formatRate, formatMs } = require('./report/format')

const CHILD = path.join(__dirname, 'child.js')

function parseArgs (argv) {
  const args = { quick: false, only: null, peers: null, out: path.join(__dirname, 'results'), install: true }
  // `--only 1c` is `--only=1c` (likewise --peers, --out)
  argv = argv.flatMap((a, i) => ['--only', '--peers', '--out'].includes(a) && i + 1 < argv.length ? [] : ['--only', '--peers', '--out'].includes(argv[i - 1]) ? [`${argv[i - 1]}=${a}`] : [a])
  for (const a of argv) {
    if (a === '--quick') args.quick = true
    else if (a === '--no-install') args.install = false
    else if (a.startsWith('--only=')) args.only = a.slice(7).split(',')
    else if (a.startsWith('--peers=')) args.peers = a.slice(8).split(',')
    else if (a.startsWith('--out=')) args.out = path.resolve(a.slice(6))
    else if (a === '--help' || a === '-h') { console.log(fs.readFileSync(__filename, 'utf8').split('\n').slice(2, 5).join('\n').replace(/^\/\/ ?/gm, '')); process.exit(0) }
    else { console.error(`unknown argument ${a}`); process.exit(2) }
  }
  return args
}

function runJob (job, timeoutMs) {
  return new Promise(resolve => {
    const child = fork(CHILD, [JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], execArgv: [] })
    let reply = null
    let output = ''
    const keep = d => { output = (output + d).slice(-4000) }
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    child.on('message', m => { reply = m })
    const timer = setTimeout(() => {
      reply = { status: 'error', reason: `timed out after ${Math.round(timeoutMs / 1000)} s` }
      child.kill('SIGKILL')
    }, timeoutMs)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (!reply) reply = { status: 'error', reason: `child exited (${signal || 'code ' + code}) without a result` }
      if (reply.status === 'error' && output.trim()) reply.output = output.trim()
      resolve(reply)
    })
  })
}

// the round with the median ops/s; an error in any round makes the row an error
function median (records) {
  if (records.length === 1) return records[0]
  const failed = records.find(r => r.status !== 'ok')
  if (failed) return failed
  const sorted = records.slice().sort((a, b) => a.result.opsPerSec - b.result.opsPerSec)
  const mid = sorted[Math.floor(sorted.length / 2)]
  return { ...mid, rounds: records.map(r => r.result.opsPerSec), seconds: records.reduce((t, r) => t + r.seconds, 0) }
}

function resultText (scenario, row) {
  if (row.status !== 'ok') return `${row.status}${row.reason ? ': ' + row.reason : ''}`
  const r = row.result
  if (r.points) return `${r.points.length} points`
  let s = `${formatRate(r.opsPerSec)} ${scenario.unit}`
  if (r.meanMs != null) s += `, mean ${formatMs(r.meanMs)}, p99 ${formatMs(r.p99Ms)}`
  if (r.recallAt10 != null) s += `, recall@10 ${r.recallAt10.toFixed(3)}`
  if (r.delay) s += `, loop delay p99 ${formatMs(r.delay.p99Ms)}`
  if (r.writtenKiBPerMessage != null) s += `, ${r.writtenKiBPerMessage.toFixed(1)} KiB written/msg`
  if (r.backup) {
    const b = r.backup
    s += ` plain; compact ${formatRate(b.compact.MBps)} MB/s (${b.compact.MB.toFixed(0)} of ${b.fileMB.toFixed(0)} MB); cp+fsync ${formatRate(b.cp.MBps)} MB/s; plain ÷ cp ${b.plainVsCp.toFixed(2)}×, compact ÷ cp ${b.compactVsCp.toFixed(2)}× (time ${b.compactTimeVsCp.toFixed(2)}×)`
    if (b.writers) s += `; ${b.commitsDuringCopies} commits during the copies, ${b.copiesChecked} copies checked`
    s += `; load ${b.load.start[0].toFixed(2)} → ${b.load.end[0].toFixed(2)}`
  }
  if (r.groupCommit) {
    const g = r.groupCommit
    s += ` [per batch of ${g.callbacksPerBatch.toFixed(1)}: JS ${formatMs(g.jsMsPerBatch)}, writer apply ${formatMs(g.writerApplyMsPerBatch)} + commit ${formatMs(g.writerCommitMsPerBatch)}]`
  }
  return s
}

async function main () {
  const args = parseArgs(process.argv.slice(2))
  // first use: the peers' own package (bench/package.json); a failure only makes peers skipped
  if (args.install) require('./install-peers').installPeers()
  const tty = process.stdout.isTTY
  const started = performance.now()
  const meta = { mode: args.quick ? 'quick' : 'full', ...systemInfo() }
  const jobTimeout = args.quick ? 30e3 : 600e3
  if (meta.loadAverage[0] > meta.cpuCount / 2) {
    meta.busy = `load average ${meta.loadAverage[0]} on ${meta.cpuCount} CPUs at start`
    console.error(`warning: the machine is busy (${meta.busy}); figures will be noisy`)
  }

  const probe = await runJob({ scenario: 'probe' }, 60e3)
  if (probe.status !== 'ok') throw new Error(`peer probe failed: ${probe.reason}\n${probe.output || ''}`)
  meta.peers = probe.result
  const fsync = await runJob({ scenario: 'fsync', params: { syncs: args.quick ? 100 : 500 } }, 60e3)
  meta.fsync = fsync.status === 'ok' ? fsync.result : { error: fsync.reason }

  const selected = scenarios.list.filter(s => !args.only || args.only.includes(s.id) || args.only.includes(s.id[0]))
  // Rows of a scenario run in rounds (A B C, A B C, …) so that a slow patch
  // of the machine hits every peer alike; each row reports its median round.
  const plan = []
  for (const s of selected) {
    const rows = s.rows(args.quick).filter(row => !args.peers || args.peers.includes(row.peer))
    const rounds = args.quick ? 1 : (s.rounds || 1)
    for (let round = 1; round <= rounds; round++) {
      rows.forEach((row, index) => plan.push({ scenario: s, row, index, round, rounds }))
    }
  }

  const out = selected.map(s => ({ id: s.id, title: s.title, unit: s.unit, describe: s.describe, rows: [] }))
  const attempts = new Map() // scenario id + row index → records of each round
  let errors = 0
  for (let i = 0; i < plan.length; i++) {
    const { scenario, row, index, round, rounds } = plan[i]
    const label = `[${String(i + 1).padStart(String(plan.length).length)}/${plan.length}] ${scenario.id.padEnd(3)}${rounds > 1 ? `r${round} ` : ''}${row.peer} ${row.variant}${row.group ? ' (' + row.group + ')' : ''}`
    if (tty) process.stdout.write(`${label} …`)
    const t0 = performance.now()
    const peer = meta.peers[row.peer]
    // a peer that does not load is skipped; lmdb-txn itself must load
    const reply = peer && !peer.available
      ? { status: row.peer === SUBJECT ? 'error' : 'skipped', reason: peer.reason }
      : await runJob({ scenario: scenario.id, peer: row.peer, variant: row.variant, params: row.params }, jobTimeout)
    const record = { peer: row.peer, variant: row.variant, group: row.group, params: row.params, status: reply.status, reason: reply.reason, result: reply.result, seconds: Math.round((performance.now() - t0) / 100) / 10 }
    const key = scenario.id + '/' + index
    if (!attempts.has(key)) attempts.set(key, [])
    attempts.get(key).push(record)
    if (reply.status === 'error') errors++
    const line = `${label} — ${resultText(scenario, record)} (${record.seconds} s)`
    if (tty) process.stdout.write(`\r\x1b[2K${line}\n`); else console.log(line)
    if (reply.status === 'error' && reply.output) console.error(reply.output.split('\n').map(l => '    ' + l).join('\n'))
    if (round === rounds) out.find(s => s.id === scenario.id).rows.push(median(attempts.get(key)))
  }

  const fsyncEnd = await runJob({ scenario: 'fsync', params: { syncs: args.quick ? 100 : 500 } }, 60e3)
  if (fsyncEnd.status === 'ok') meta.fsyncAtEnd = fsyncEnd.result
  meta.wallSeconds = Math.round((performance.now() - started) / 1000)
  const results = analyze({ meta, scenarios: out })
  fs.mkdirSync(args.out, { recursive: true })
  const base = path.join(args.out, args.quick ? 'quick' : 'latest')
  fs.writeFileSync(base + '.json', JSON.stringify(results, null, 2) + '\n')
  fs.writeFileSync(base + '.md', require('./report/markdown').render(results))
  fs.writeFileSync(base + '.svg', require('./report/svg').render(results))
  console.log('\n' + require('./report/markdown').summary(results))
  console.log(`\nwrote ${path.relative(process.cwd(), base)}.{json,md,svg} in ${meta.wallSeconds} s${errors ? ` — ${errors} job(s) failed` : ''}`)
  process.exitCode = errors ? 1 : 0
}

main().catch(e => { console.error(e); process.exitCode = 1 })
