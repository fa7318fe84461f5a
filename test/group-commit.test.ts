import { describe, expect, it } from 'vitest'
import { open, MapFullError, StoreClosedError, TransactionBusyError, TransactionTooLargeError } from './helpers/lib'
import { tmpDir } from './helpers/tmp'
import { Child, ROOT } from './helpers/child'
import { readdirSync, readFileSync } from 'node:fs'

describe('store.transaction (group commit)', () => {
  it('many callbacks share few commits; each promise resolves with its value once durable', async () => {
    const store = open(tmpDir())
    const before = store.stat().lastTxnId
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) =>
      store.transaction((txn) => { txn.write(`k/${i}`, String(i)); return i * 2 })))
    expect(results).toEqual(Array.from({ length: 500 }, (_, i) => i * 2))
    const commits = store.stat().lastTxnId - before
    expect(commits).toBeGreaterThanOrEqual(1)
    expect(commits).toBeLessThan(10)   // one event-loop turn → one batch (plus MAX_BATCH splits)
    expect(store.list('k')).toHaveLength(500)
    store.close()
  })

  it('takes effect in call order: a callback sees the writes of those queued before it', async () => {
    const store = open(tmpDir())
    const seen = await Promise.all(Array.from({ length: 50 }, (_, i) => store.transaction((txn) => {
      const prev = txn.readString('counter')
      txn.write('counter', String(Number(prev ?? 0) + 1))
      return prev ?? null
    })))
    expect(seen).toEqual([null, ...Array.from({ length: 49 }, (_, i) => String(i + 1))])
    expect(store.readString('counter')).toBe('50')
    store.close()
  })

  it('a throwing callback rejects only its own promise; an async one is rejected with TypeError', async () => {
    const store = open(tmpDir())
    const outcomes = await Promise.allSettled([
      store.transaction((t) => { t.write('a', '1') }),
      store.transaction((t) => { t.write('b', '1'); throw new Error('mine') }),
      store.transaction((t) => { t.write('c', '1'); return Promise.resolve() }),
      store.transaction(async (t) => { t.write('d', '1') }),
      store.transaction((t) => { t.write('e', '1'); return 'ok' })
    ])
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected', 'fulfilled'])
    expect((outcomes[1] as PromiseRejectedResult).reason.message).toBe('mine')
    expect((outcomes[2] as PromiseRejectedResult).reason).toBeInstanceOf(TypeError)
    expect((outcomes[3] as PromiseRejectedResult).reason).toBeInstanceOf(TypeError)
    expect(['a', 'b', 'c', 'd', 'e'].map((k) => store.exists(k))).toEqual([true, false, false, false, true])
    store.close()
  })

  it('callbacks get a full Transaction: savepoints, writeMessage, reads of their own writes', async () => {
    const store = open(tmpDir())
    const r = await store.transaction((txn) => {
      txn.writeMessage({ path: 'm', fields: { a: '1' }, links: [{ target: 'm', path: 'l' }] })
      expect(() => txn.transaction((t) => { t.write('m/b', '2'); throw new Error('undo') })).toThrow('undo')
      return [txn.readString('l/a'), txn.exists('m/b')]
    })
    expect(r).toEqual(['1', false])
    expect(store.list('m')).toEqual(['a'])
    store.close()
  })

  it('begin()/transactionSync() inside a callback throw TransactionBusyError (waiting would deadlock)', async () => {
    const store = open(tmpDir())
    const errors = await store.transaction(() => {
      const out: unknown[] = []
      try { store.begin() } catch (e) { out.push(e) }
      try { store.transactionSync(() => 1) } catch (e) { out.push(e) }
      return out
    })
    expect(errors).toHaveLength(2)
    for (const e of errors) expect(e).toBeInstanceOf(TransactionBusyError)
    // a batch merely pending does not hold the lock for this thread: begin()
    // is allowed, and the callback queues behind the open transaction
    const p = store.transaction((t) => t.readString('x'))
    const txn = store.begin()
    txn.write('x', 'from begin')
    await new Promise((r) => setTimeout(r, 10))
    txn.commit()
    expect(await p).toBe('from begin')
    store.close()
  })

  it('queues behind a begin() transaction open on the JS thread', async () => {
    const store = open(tmpDir())
    const txn = store.begin()
    txn.write('first', '1')
    const p = store.transaction((t) => t.readString('first') ?? 'not yet')
    await new Promise((r) => setTimeout(r, 20))
    txn.commit()
    expect(await p).toBe('1')
    store.close()
  })

  it('paths and values are checked at the call inside callbacks (typed errors); a refused op leaves nothing', async () => {
    const store = open(tmpDir())
    const errors = await store.transaction((t) => {
      const out: string[] = []
      const attempt = (fn: () => void): void => { try { fn() } catch (e) { out.push((e as Error).constructor.name) } }
      for (const bad of ['', 'a/../b', 'a/./b', 'a\0b', 'x'.repeat(600)]) attempt(() => t.write(bad, '1'))
      attempt(() => t.makeLink('../x', 'l'))
      attempt(() => t.makeGroup('/'))
      attempt(() => t.write('ok', 5 as any))
      t.write('/a//b/', 'v')
      t.write('é/ü', 'u')
      t.makeLink('/a/b/', 'l2')
      return out
    })
    expect(errors).toEqual(['InvalidPathError', 'InvalidPathError', 'InvalidPathError', 'InvalidPathError', 'KeyTooLongError', 'InvalidPathError', 'InvalidPathError', 'TypeError'])
    expect([store.readString('a/b'), store.readString('é/ü'), store.readString('l2'), store.exists('ok'), store.exists('l')]).toEqual(['v', 'u', 'v', false, false])
    expect(store.stat().entries).toBe(3)
    store.close()
  })

  it('limits count per callback', async () => {
    const store = open(tmpDir(), { limits: { maxOps: 3 } })
    const outcomes = await Promise.allSettled([
      store.transaction((t) => { t.write('a1', '1'); t.write('a2', '1'); t.write('a3', '1') }),
      store.transaction((t) => { for (let i = 0; i < 4; i++) t.write(`b${i}`, '1') }),
      store.transaction((t) => { t.write('c1', '1'); t.write('c2', '1'); t.write('c3', '1') })
    ])
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(TransactionTooLargeError)
    expect(store.stat().entries).toBe(6)
    store.close()
  })

  it('MAP_FULL during a batch: the map grows and the buffer is applied again; no callback runs twice', async () => {
    const store = open(tmpDir(), { mapSize: 64 * 1024, maxMapSize: 256 * 1024 * 1024 })
    const runs = new Map<number, number>()
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => store.transaction((txn) => {
      runs.set(i, (runs.get(i) ?? 0) + 1)
      for (let k = 0; k < 50; k++) txn.write(`b/${i}/${k}`, Buffer.alloc(1000, i))
      return i
    })))
    expect(results).toEqual(Array.from({ length: 40 }, (_, i) => i))
    expect(store.list('b')).toHaveLength(40)
    expect([...runs.values()]).toEqual(Array.from({ length: 40 }, () => 1))
    expect(store.stat().mapSize).toBeGreaterThan(64 * 1024) // it really grew
    store.close()
  })

  it('past maxMapSize only the callbacks that do not fit reject (MapFullError, not retryable); each is all or nothing', async () => {
    const store = open(tmpDir(), { mapSize: 64 * 1024, maxMapSize: 512 * 1024 })
    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => store.transaction((txn) => {
      for (let k = 0; k < 100; k++) txn.write(`b/${i}/${k}`, Buffer.alloc(1000, i))
    })))
    const rejected = outcomes.flatMap((o, i) => o.status === 'rejected' ? [i] : [])
    expect(rejected.length).toBeGreaterThan(0)
    expect(rejected.length).toBeLessThan(10)
    for (const i of rejected) {
      const reason = (outcomes[i] as PromiseRejectedResult).reason
      expect(reason).toBeInstanceOf(MapFullError)
      expect(reason.retryable).toBe(false)
    }
    for (let i = 0; i < 10; i++) expect(store.list(`b/${i}`)).toHaveLength(rejected.includes(i) ? 0 : 100)
    await store.transaction((t) => t.write('small', 'ok'))
    expect(store.readString('small')).toBe('ok')
    store.close()
  })

  it('close() with pending callbacks rejects them with StoreClosedError; they wrote nothing; none hangs', async () => {
    const dir = tmpDir()
    const store = open(dir)
    const pending = Array.from({ length: 20 }, (_, i) => store.transaction((t) => t.write(`p/${i}`, '1')))
    store.close()
    const outcomes = await Promise.allSettled(pending)
    for (const o of outcomes) expect((o as PromiseRejectedResult).reason).toBeInstanceOf(StoreClosedError)
    await expect(store.transaction(() => 1)).rejects.toBeInstanceOf(StoreClosedError)
    const again = open(dir)
    expect(again.list('p')).toEqual([])
    again.close()
  })

  it('flush() waits for every transaction() called before it', async () => {
    const store = open(tmpDir(), { durability: 'nosync' })
    let settled = 0
    const ps = Array.from({ length: 100 }, (_, i) => store.transaction((t) => t.write(`f/${i}`, '1')).then(() => { settled++ }))
    await store.flush()
    expect(settled).toBe(100)
    await Promise.all(ps)
    await store.flush() // nothing pending: just a sync
    store.close()
  })

  it('flush() rejects with StoreClosedError when the store closes while it waits', async () => {
    const store = open(tmpDir())
    const pending = store.transaction((t) => t.write('a', '1'))
    const flushed = store.flush()
    store.close()
    await expect(pending).rejects.toBeInstanceOf(StoreClosedError)
    await expect(flushed).rejects.toBeInstanceOf(StoreClosedError)
    await expect(store.flush()).rejects.toBeInstanceOf(StoreClosedError)
  })

  it('batches of shrinking size each apply exactly their own ops (the writer hands op buffers back for reuse)', async () => {
    const store = open(tmpDir(), { durability: 'nosync', changeLog: true })
    const big = Buffer.alloc(4000, 0x61)
    // one large batch, then smaller ones into the reused, larger buffers
    await Promise.all(Array.from({ length: 100 }, (_, i) => store.transaction((t) => t.write(`big/${i}`, big))))
    for (const n of [10, 1, 3]) {
      await Promise.all(Array.from({ length: n }, (_, i) => store.transaction((t) => t.write(`small/${n}/${i}`, `v${i}`))))
    }
    expect(store.list('big')).toHaveLength(100)
    for (const n of [10, 1, 3]) {
      expect(store.list(`small/${n}`).sort()).toEqual(Array.from({ length: n }, (_, i) => `${i}`).sort())
      for (let i = 0; i < n; i++) expect(store.readString(`small/${n}/${i}`)).toBe(`v${i}`)
    }
    const changes = store.changes({ after: 100 })
    expect(changes.map((c) => c.ops.map((o) => o.path))).toEqual(
      [10, 1, 3].flatMap((n) => Array.from({ length: n }, (_, i) => [`small/${n}/${i}`])))
    store.close()
  })

  it('the next batch reuses the JS op buffer: after a large, a reading, an all-throwing and a partly throwing batch it holds exactly its own ops', async () => {
    const store = open(tmpDir(), { durability: 'nosync', changeLog: true })
    const big = Buffer.alloc(8000, 0x62)
    const boom = (): never => { throw new Error('boom') }
    // large: the buffer grows past its first size and is kept for the next batch
    await Promise.all(Array.from({ length: 40 }, (_, i) => store.transaction((t) => t.write(`big/${i}`, big))))
    // reading (held): the JS thread applied its ops from the buffer before handing it over
    const read = await Promise.all([
      store.transaction((t) => t.write('held/a', 'A')),
      store.transaction((t) => { t.write('held/b', t.readString('held/a') + 'B'); return t.readString('held/b') })
    ])
    expect(read[1]).toBe('AB')
    // every callback throws: nothing is handed over, the buffer is reused as it is
    const thrown = await Promise.allSettled([store.transaction((t) => { t.write('gone/1', big); boom() })])
    expect(thrown[0].status).toBe('rejected')
    // some throw: their slices are cut out of the reused buffer
    const mixed = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => store.transaction((t) => {
      t.write(`mixed/${i}`, `m${i}`)
      if (i % 2 === 1) boom()
    })))
    expect(mixed.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled', 'rejected'])
    expect(store.list('big')).toHaveLength(40)
    expect(store.readString('held/b')).toBe('AB')
    expect(store.exists('gone')).toBe(false)
    expect(store.list('mixed').sort()).toEqual(['0', '2', '4'])
    for (const i of [0, 2, 4]) expect(store.readString(`mixed/${i}`)).toBe(`m${i}`)
    const changes = store.changes({ after: 40 })
    expect(changes.map((c) => c.ops.map((o) => o.path))).toEqual([['held/a'], ['held/b'], ['mixed/0'], ['mixed/2'], ['mixed/4']])
    store.close()
  })

  it.runIf(process.platform === 'linux')('the writer thread is SCHED_BATCH: a hand-over never preempts the JS thread', async () => {
    const store = open(tmpDir(), { durability: 'nosync' })
    await store.transaction((t) => t.write('a', '1')) // starts the writer
    const writers = readdirSync('/proc/self/task').filter((tid) => {
      try { return readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === 'lmdb-txn-writer' } catch { return false }
    })
    expect(writers.length).toBeGreaterThan(0)
    for (const tid of writers) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
      const policy = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]) // field 41
      expect(policy).toBe(3) // SCHED_BATCH
    }
    store.close()
  })

  it('a process killed mid-stream: every resolved promise\'s data is present, every batch all-or-nothing', async () => {
    const dir = tmpDir()
    open(dir).close()
    const child = new Child(`
      const { open } = require(${JSON.stringify(ROOT)});
      const store = open(process.argv[1]);
      let n = 0;
      const tick = () => {
        for (let k = 0; k < 20; k++) {
          const i = n++;
          store.transaction((t) => {
            t.makeGroup('m/' + i);
            for (let f = 0; f < 5; f++) t.write('m/' + i + '/f' + f, String(i));
          }).then(() => reply({ acked: i }));
        }
        setImmediate(tick);
      };
      tick();
    `, [dir])
    const acked: number[] = []
    for (let i = 0; i < 200; i++) acked.push((await child.next()).acked)
    child.proc.kill('SIGKILL')
    await new Promise((r) => child.proc.once('exit', r))
    const store = open(dir)
    for (const i of acked) expect(store.list(`m/${i}`)).toHaveLength(5)
    for (const id of store.list('m')) {
      const fields = store.list(`m/${id}`)
      expect(fields).toHaveLength(5)
      expect(store.type(`m/${id}`)).toBe('group')
    }
    store.close()
  })
})
