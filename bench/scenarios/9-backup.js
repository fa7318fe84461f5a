'use strict'
// Scenario 9: hot backup throughput (issue 17). One store of `sizeMB` (values
// of 64 KiB, a tenth removed again so there are free pages), then in
// interleaved rounds (order rotated each round): store.backup() plain,
// store.backup({ compact: true }), and `cp data.mdb` followed by an fsync of
// the copy (store.backup() fsyncs too). MB/s = bytes written ÷ wall time.
// "writers running": another process commits counter + message n in one
// transaction as fast as it can (nosync) during every copy; each backup copy
// is then checked — its counter k must match exactly messages 1..k and its
// change log must end with the record of commit k — so the row fails if a
// copy is not one commit. A cp taken under writers is timed only (a file copy
// of a live store is not consistent; that is what backup() is for).
// The source is hot in the page cache for every variant alike; the machine's
// load average is recorded at the start and end of each job.
const fs = require('fs')
const os = require('os')
const path = require('path')
const { execFileSync, spawn } = require('child_process')

const ROOT = process.env.LMDB_TXN_MODULE || path.resolve(__dirname, '..', '..')
const VALUE = 64 * 1024

const WRITER = `
  const { open } = require(process.argv[1])
  const store = open(process.argv[2], { changeLog: true, durability: 'nosync' })
  let running = true
  process.on('message', () => { running = false })
  function step () {
    for (let i = 0; i < 20 && running; i++) {
      const txn = store.begin()
      const n = Number(txn.readString('counter')) + 1
      txn.writeMessage({ path: 'm/' + n, fields: { n: String(n), body: 'x'.repeat(200) } })
      txn.write('counter', String(n))
      txn.commit()
    }
    if (running) setImmediate(step)
    else { store.close(); process.exit(0) }
  }
  process.send('ready')
  step()
`

function build (open, dir, sizeMB) {
  const store = open(dir, { changeLog: true, durability: 'sync', mapSize: Math.max(256, sizeMB * 2) * 1024 * 1024 })
  const count = Math.ceil(sizeMB * 1024 * 1024 / VALUE)
  const value = Buffer.alloc(VALUE)
  for (let i = 0; i < VALUE; i += 4) value.writeUInt32LE((i * 2654435761) >>> 0, i)
  store.transactionSync((txn) => txn.write('counter', '0'))
  for (let i = 0; i < count; i += 128) {
    store.transactionSync((txn) => { for (let j = i; j < Math.min(count, i + 128); j++) txn.write(`pad/${j}`, value) })
  }
  store.transactionSync((txn) => { for (let j = 0; j < count; j += 10) txn.remove(`pad/${j}`) })
  return store
}

function checkCopy (open, dir) {
  const copy = open(dir, { readOnly: true })
  try {
    const k = Number(copy.readString('counter'))
    const names = copy.list('m')
    if (names.length !== k) throw new Error(`inconsistent copy: counter ${k} but ${names.length} messages`)
    if (k > 0 && copy.readString(`m/${k}/n`) !== String(k)) throw new Error(`inconsistent copy: message ${k} missing`)
    const last = copy.lastChangeSeq()
    const [record] = copy.changes({ after: last - 1 })
    const counterOp = record && record.ops.find((op) => op.op === 'write' && op.path === 'counter')
    if (!counterOp || Buffer.from(counterOp.value).toString() !== String(k)) throw new Error(`inconsistent copy: the change log's last record (seq ${last}) is not commit ${k}`)
    return k
  } finally {
    copy.close()
  }
}

function startWriter (dir) {
  const proc = spawn(process.execPath, ['-e', WRITER, '--', ROOT, dir], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  return new Promise((resolve, reject) => {
    proc.once('message', () => resolve(proc))
    proc.once('exit', (code) => reject(new Error(`writer exited ${code}`)))
  })
}

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const mb = (bytes) => bytes / (1024 * 1024)

module.exports = {
  id: '9',
  title: 'Hot backup: store.backup() vs cp of the data file',
  unit: 'MB/s',
  describe: 'one store of sizeMB (64 KiB values, a tenth removed again); interleaved rounds of store.backup() plain, { compact: true } and `cp data.mdb` + fsync of the copy; MB/s = bytes written ÷ wall time; "writers running": another process commits counter + message n per transaction (nosync) throughout, every backup copy is checked to hold exactly one commit (counter k ⇔ messages 1..k, change log ends at commit k); cp under writers is timed only (not a consistent copy); load average at job start/end',
  rows (quick) {
    const params = { sizeMB: quick ? 16 : 300, rounds: quick ? 2 : 3 }
    return [
      { peer: 'lmdb-txn', variant: 'idle', params },
      { peer: 'lmdb-txn', variant: 'writers running (another process)', params: { ...params, writers: true } }
    ]
  },

  async run ({ dir, tmp, params }) {
    const { open } = require(ROOT)
    const loadStart = os.loadavg()
    const store = build(open, dir, params.sizeMB)
    const source = path.join(dir, 'data.mdb')
    const out = path.join(tmp, 'copies')
    fs.mkdirSync(out)
    const writer = params.writers ? await startWriter(dir) : undefined
    const times = { plain: [], compact: [], cp: [] }
    const bytes = { plain: 0, compact: 0, cp: 0 }
    let commitsDuring = 0
    let checked = 0
    try {
      const variants = ['plain', 'compact', 'cp']
      for (let round = 0; round < params.rounds; round++) {
        for (let i = 0; i < variants.length; i++) {
          const v = variants[(i + round) % variants.length]
          const dest = path.join(out, `${v}-${round}`)
          const before = Number(store.readString('counter'))
          const t0 = performance.now()
          if (v === 'cp') {
            fs.mkdirSync(dest)
            execFileSync('cp', [source, path.join(dest, 'data.mdb')])
            const fd = fs.openSync(path.join(dest, 'data.mdb'), 'r')
            fs.fsyncSync(fd)
            fs.closeSync(fd)
            bytes.cp = fs.statSync(path.join(dest, 'data.mdb')).size
          } else {
            bytes[v] = (await store.backup(dest, { compact: v === 'compact' })).bytes
          }
          times[v].push(performance.now() - t0)
          commitsDuring += Number(store.readString('counter')) - before
          if (v !== 'cp' && params.writers) { checkCopy(open, dest); checked++ }
          fs.rmSync(dest, { recursive: true, force: true })
        }
      }
    } finally {
      if (writer) {
        writer.send('stop')
        await new Promise((resolve) => writer.once('exit', resolve))
      }
      store.close()
    }
    const rate = (v) => mb(bytes[v]) / (median(times[v]) / 1000)
    const plain = rate('plain')
    const compact = rate('compact')
    const cp = rate('cp')
    return {
      n: params.rounds,
      opsPerSec: plain,
      durable: true,
      backup: {
        sizeMB: params.sizeMB,
        fileMB: mb(bytes.cp),
        plain: { MBps: plain, ms: times.plain, MB: mb(bytes.plain) },
        compact: { MBps: compact, ms: times.compact, MB: mb(bytes.compact) },
        cp: { MBps: cp, ms: times.cp, MB: mb(bytes.cp) },
        plainVsCp: plain / cp,
        compactVsCp: compact / cp,
        // compact writes fewer bytes: its time against cp's is the user's view
        compactTimeVsCp: median(times.cp) / median(times.compact),
        writers: Boolean(params.writers),
        commitsDuringCopies: commitsDuring,
        copiesChecked: checked,
        load: { start: loadStart, end: os.loadavg() }
      }
    }
  }
}
