'use strict'
/**
 * Misuse scenarios, each in its own process (a crash would be visible as a
 * signal, not take the test runner down). argv: <root> <scenario> <dir> [arg]
 * Prints one JSON line with what happened; exit status 0 unless the
 * scenario itself exits on purpose.
 */
const fs = require('node:fs')
const path = require('node:path')
const [root, scenario, dir, arg] = process.argv.slice(2)
const lib = require(root)
const W = require('../lib/workload.cjs')

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n')
const err = (e) => e instanceof Error ? { name: e.constructor.name, code: e.code, lmdbCode: e.lmdbCode, retryable: e.retryable, message: e.message, cause: e.cause ? err(e.cause) : undefined } : { name: typeof e, message: String(e) }
/** The error fn throws (or 'ok' with its value). */
const attempt = (fn) => { try { const v = fn(); return { ok: true, value: v === undefined ? null : v } } catch (e) { return err(e) } }
const state = (store, seq) => {
  const m = W.message(seq)
  let n = 0
  for (let i = 0; i < W.FIELDS; i++) if (store.readString(`by-seq/${W.pad(seq)}/f${i}`) === m.fields[`f${i}`]) n++
  return n === W.FIELDS ? 'complete' : n === 0 && !store.exists(m.path) ? 'absent' : 'partial'
}
const fileSize = () => fs.statSync(path.join(dir, 'data.mdb')).size
/** Reader slots holding a snapshot right now, from LMDB's reader table (`lmdb-txn check --deep --lmdb-only`, in a child, as `mdb_stat -r` was). */
const activeReaders = () => {
  const cli = path.join(__dirname, '..', '..', '..', 'bin', 'lmdb-txn.js')
  const r = require('node:child_process').spawnSync(process.execPath, [cli, 'check', '--deep', '--lmdb-only', '--json', dir], { encoding: 'utf8', timeout: 30_000 })
  const report = JSON.parse(r.stdout)
  if (!report.ok) throw new Error(`check --deep: ${report.errors.join('; ')}`)
  return report.lmdb.readersHoldingSnapshot
}

const scenarios = {
  // close() with a transaction open: it is aborted and says so.
  closeOpenTxn () {
    const store = lib.open(dir)
    W.APIS.writeMessage(store, [0])
    const txn = store.begin()
    W.writeInto(txn, 1)
    store.close()
    const r = {
      activeAfterClose: txn.active,
      write: attempt(() => txn.write('x', 'y')),
      commit: attempt(() => txn.commit()),
      abort: attempt(() => txn.abort())
    }
    const again = lib.open(dir)
    r.msg0 = state(again, 0)
    r.msg1 = state(again, 1)
    r.beginAfter = attempt(() => { const t = again.begin(); W.writeInto(t, 1); t.commit() })
    r.msg1After = state(again, 1)
    again.close()
    return r
  },

  doubleClose () {
    const store = lib.open(dir)
    W.APIS.writeMessage(store, [0])
    const snap = store.snapshot()
    const r = {
      snapClose1: attempt(() => snap.close()),
      snapClose2: attempt(() => snap.close()),
      close1: attempt(() => store.close()),
      close2: attempt(() => store.close())
    }
    const again = lib.open(dir)
    r.msg0 = state(again, 0)
    again.close()
    return r
  },

  async useAfterClose () {
    const store = lib.open(dir)
    W.APIS.writeMessage(store, [0])
    const snap = store.snapshot()
    store.close()
    const r = {}
    for (const [name, fn] of Object.entries({
      read: () => store.read('a'),
      readString: () => store.readString('a'),
      type: () => store.type('a'),
      list: () => store.list('msg'),
      resolve: () => store.resolve('a'),
      exists: () => store.exists('a'),
      begin: () => store.begin(),
      transactionSync: () => store.transactionSync((t) => t.write('a', 'b')),
      writeMessage: () => store.writeMessage(W.message(1)),
      batch: () => store.batch([{ op: 'replace', path: 'a', value: 'b' }]),
      snapshot: () => store.snapshot(),
      stat: () => store.stat(),
      snapshotRead: () => snap.readString(`by-seq/${W.pad(0)}/f0`)
    })) r[name] = attempt(fn)
    r.transaction = await store.transaction((t) => t.write('a', 'b')).then(() => ({ ok: true }), err)
    r.flush = await store.flush().then(() => ({ ok: true }), err)
    const again = lib.open(dir)
    r.msg0 = state(again, 0)
    r.a = again.exists('a')
    again.close()
    return r
  },

  commitTwice () {
    const store = lib.open(dir)
    const txn = store.begin()
    W.writeInto(txn, 0)
    const r = { commit1: attempt(() => txn.commit()), commit2: attempt(() => txn.commit()), active: txn.active }
    r.lastTxnIdAfter = store.stat().lastTxnId
    r.msg0 = state(store, 0)
    store.close()
    return r
  },

  abortAfterCommit () {
    const store = lib.open(dir)
    const txn = store.begin()
    W.writeInto(txn, 0)
    const r = { commit: attempt(() => txn.commit()), abort: attempt(() => txn.abort()), write: attempt(() => txn.write('x', 'y')) }
    r.msg0 = state(store, 0)
    store.close()
    return r
  },

  // Fill a store capped at maxMapSize through begin(), then keep using it.
  mapFull () {
    const store = lib.open(dir, { mapSize: 64 * 1024, maxMapSize: 256 * 1024 })
    const r = { committed: [] }
    let seq = 0
    for (;;) {
      const txn = store.begin()
      try {
        W.writeInto(txn, seq)
        txn.commit()
        r.committed.push(seq++)
      } catch (e) {
        r.error = err(e)
        r.activeAfter = txn.active
        r.writeAfter = attempt(() => txn.write('x', 'y'))
        r.commitAfter = attempt(() => txn.commit())
        r.abortAfter = attempt(() => txn.abort())
        break
      }
      if (seq > 10_000) throw new Error('the map never filled')
    }
    // The same message through the callback forms: MapFullError, nothing written.
    r.transactionSync = attempt(() => store.transactionSync((t) => W.writeInto(t, seq)))
    r.writeMessage = attempt(() => store.writeMessage(W.message(seq)))
    r.batch = attempt(() => store.batch(W.batchOps(seq)))
    r.readsAfter = state(store, r.committed[r.committed.length - 1])
    r.nextState = state(store, seq)
    // Small writes that fit still work? (free pages may remain)
    r.stat = store.stat()
    store.close()
    const again = lib.open(dir, { maxMapSize: 256 * 1024 })
    r.reopenLast = state(again, r.committed[r.committed.length - 1])
    again.close()
    return r
  },

  // Two handles on one directory in one process share one environment.
  twoStores () {
    const a = lib.open(dir)
    const b = lib.open(dir, { durability: 'nosync' })
    const r = {}
    const t = a.begin()
    W.writeInto(t, 0)
    r.secondBegin = attempt(() => b.begin())
    r.secondTransactionSync = attempt(() => b.transactionSync((x) => x.write('z', 'z')))
    r.bSeesUncommitted = state(b, 0)
    t.commit()
    r.bSeesCommitted = state(b, 0)
    W.APIS.writeMessage(b, [1])
    r.aSeesB = state(a, 1)
    a.close()
    r.bAfterAClosed = attempt(() => { W.APIS.transactionSync(b, [2]); return state(b, 2) })
    r.aAfterClose = attempt(() => a.read('z'))
    b.close()
    r.bDoubleClose = attempt(() => b.close())
    return r
  },

  // A process that exits holding an uncommitted begin(); arg = how it exits.
  exitWithTxn () {
    const store = lib.open(dir)
    W.APIS.writeMessage(store, [0])
    const txn = store.begin()
    W.writeInto(txn, 1)
    global.keep = { store, txn } // the store too: see the 'store handle collected' bug test
    out({ holding: true })
    if (arg === 'exit') process.exit(0)
    if (arg === 'throw') throw new Error('uncaught, on purpose')
    if (arg === 'hold') setInterval(() => {}, 1000) // until SIGKILLed
    // 'natural': nothing left to do; the event loop ends with the txn open
    return undefined
  },

  // The next process: must get the writer lock (not hang) and see only message 0.
  afterExit () {
    const store = lib.open(dir)
    const r = { msg0: state(store, 0), msg1: state(store, 1) }
    r.begin = attempt(() => { const t = store.begin(); W.writeInto(t, 1); t.commit() })
    r.msg1After = state(store, 1)
    store.close()
    return r
  },

  // A worker_thread opens the store, begins, writes, and exits with the txn open.
  async workerExit () {
    const { Worker } = require('node:worker_threads')
    const main = lib.open(dir)
    W.APIS.writeMessage(main, [0])
    const code = `
      const { parentPort } = require('node:worker_threads')
      const lib = require(${JSON.stringify(root)})
      const W = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'workload.cjs'))})
      const store = lib.open(${JSON.stringify(dir)})
      const txn = store.begin()
      W.writeInto(txn, 1)
      globalThis.keep = { store, txn }
      parentPort.postMessage('holding')
      const how = ${JSON.stringify(arg)}
      if (how === 'exit') process.exit(0)
      if (how === 'throw') throw new Error('worker throws with a txn open')
      if (how === 'natural') parentPort.close()
      // 'terminate': wait; the main thread terminates us
      else if (how === 'terminate') setInterval(() => {}, 1000)
    `
    const worker = new Worker(code, { eval: true })
    const exited = new Promise((resolve) => worker.once('exit', resolve))
    worker.on('error', () => {})
    await new Promise((resolve) => worker.once('message', resolve))
    if (arg === 'terminate') await worker.terminate()
    const exitCode = await exited
    // The main thread can write now (a hang here is caught by the parent's timeout).
    const r = { exitCode, msg1: state(main, 1) }
    r.begin = attempt(() => { const t = main.begin(); W.writeInto(t, 1); t.commit() })
    r.msg1After = state(main, 1)
    main.close()
    return r
  },

  // A snapshot held across many commits: reader slots and file growth.
  snapshotAcrossCommits () {
    const commits = Number(arg)
    // Durability does not change which pages a snapshot pins; nosync keeps it fast.
    const store = lib.open(dir, { durability: 'nosync' })
    W.APIS.writeMessage(store, Array.from({ length: 20 }, (_, i) => i))
    const value = (i) => `v${i}`.padEnd(100, '.')
    const churn = (n) => { for (let i = 0; i < n; i++) store.transactionSync((t) => { t.write('churn/a', value(i)); t.write('churn/b', value(i)) }) }
    churn(commits) // warm up: the free list reaches a steady state
    const r = { commits, start: { size: fileSize(), readers: store.stat().readers } }
    churn(commits)
    r.noSnapshot = { size: fileSize(), readers: store.stat().readers }
    const snap = store.snapshot()
    const before = snap.readString('churn/a')
    r.snapOpened = { readers: store.stat().readers, active: activeReaders() }
    const readersDuring = new Set()
    for (let i = 0; i < commits; i++) {
      store.transactionSync((t) => { t.write('churn/a', value(i)); t.write('churn/b', value(i)) })
      if (i % 100 === 0) readersDuring.add(store.stat().readers)
    }
    r.withSnapshot = { size: fileSize(), readers: store.stat().readers, readersDuring: [...readersDuring], active: activeReaders() }
    r.snapshotStillSees = snap.readString('churn/a') === before && state(snap, 19) === 'complete'
    snap.close()
    r.snapClosed = { readers: store.stat().readers, active: activeReaders() }
    churn(commits)
    r.afterClose = { size: fileSize(), readers: store.stat().readers }
    churn(commits)
    r.afterClose2 = { size: fileSize() }
    // Many snapshots at once, then all closed.
    const snaps = Array.from({ length: 50 }, () => store.snapshot())
    r.fiftySnapshots = { readers: store.stat().readers, active: activeReaders() }
    for (const s of snaps) s.close()
    r.fiftyClosed = { readers: store.stat().readers, active: activeReaders() }
    store.close()
    return r
  },

  // Holds a snapshot and waits to be killed (stale reader slot).
  holdSnapshot () {
    const store = lib.open(dir, { maxReaders: 8 })
    globalThis.keep = { store, snap: store.snapshot() }
    out({ holding: true, readers: store.stat().readers })
    setInterval(() => {}, 1000)
    return undefined
  },

  // Keeps only a transaction and a snapshot, not their store, then lets GC run
  // (needs --expose-gc). The user never closed anything.
  async dropStoreHandle () {
    let store = lib.open(dir)
    W.APIS.writeMessage(store, [0])
    const txn = store.begin()
    W.writeInto(txn, 1)
    const snap = store.snapshot()
    store = null
    for (let i = 0; i < 3; i++) {
      global.gc()
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    return { txnActive: txn.active, snapshotRead: attempt(() => snap.readString(`by-seq/${W.pad(0)}/f0`) === W.fieldValue(0, 0)), commit: attempt(() => txn.commit()) }
  },

  readersAfterKills () {
    const store = lib.open(dir, { maxReaders: 8 })
    const r = { readersAtOpen: store.stat().readers }
    const snaps = []
    r.sevenSnapshots = attempt(() => { for (let i = 0; i < 7; i++) snaps.push(store.snapshot()); return store.stat().readers })
    for (const s of snaps) s.close()
    store.close()
    return r
  }
}

Promise.resolve(scenarios[scenario]()).then((r) => { if (r !== undefined) out(r) }, (e) => {
  process.stderr.write(`scenario ${scenario} failed: ${e && e.stack}\n`)
  process.exit(3)
})
