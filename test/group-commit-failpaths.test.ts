/**
 * Failure paths of store.transaction() (issue 13, items 5–10 and 12, with
 * the pipelined design of issue 16): every failure releases LMDB's writer
 * lock, blames only its own callback, grows the map only for MAP_FULL, and
 * never runs a callback twice.
 */
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { open, MapFullError, StoreClosedError, TransactionFinishedError, type Transaction } from './helpers/lib'
import { tmpDir } from './helpers/tmp'
import { Child, ROOT } from './helpers/child'

const MiB = 1024 * 1024

describe('group commit failure paths', () => {
  it('item 5: a callback returning a thenable whose then throws rejects alone with TypeError; the lock is released', async () => {
    const store = open(tmpDir())
    const badGetter = { get then () { throw new Error('getter') } }
    const badThen = { then () { throw new Error('then') } }
    const outcomes = await Promise.allSettled([
      store.transaction((t) => { t.write('a', '1') }),
      store.transaction((t) => { t.write('b', '1'); return badGetter }),
      store.transaction((t) => { t.write('c', '1'); return badThen }),
      store.transaction((t) => { t.write('d', '1'); return t.readString('a') })
    ])
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled'])
    expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(TypeError)
    expect((outcomes[2] as PromiseRejectedResult).reason).toBeInstanceOf(TypeError)
    expect((outcomes[3] as PromiseFulfilledResult<unknown>).value).toBe('1')
    expect(['a', 'b', 'c', 'd'].map((k) => store.exists(k))).toEqual([true, false, false, true])
    // the writer lock is free: a begin() on this thread and another process both get it
    store.begin().abort()
    const other = spawnSync(process.execPath, ['-e', `
      const s = require(${JSON.stringify(ROOT)}).open(process.argv[1]);
      s.transactionSync((t) => t.write('other', '1')); s.close()`, dir(store)], { timeout: 20_000 })
    expect(other.status).toBe(0)
    store.close()
  })

  it('item 5: a callback that closes the store while its batch txn is held (it read) ends the batch; nothing hangs', async () => {
    const d = tmpDir()
    const store = open(d)
    await store.transaction((t) => t.write('before', '1'))
    const outcomes = await Promise.allSettled([
      store.transaction((t) => { t.write('x', '1') }),
      store.transaction((t) => { t.readString('x'); store.close(); return 1 }),
      store.transaction((t) => { t.write('y', '1') })
    ])
    for (const o of outcomes) expect((o as PromiseRejectedResult).reason).toBeInstanceOf(StoreClosedError)
    const again = open(d)
    expect(again.exists('before')).toBe(true)
    expect(['x', 'y'].map((k) => again.exists(k))).toEqual([false, false])
    again.begin().abort() // the lock was released
    await again.transaction((t) => t.write('after', '1'))
    again.close()
  })

  it('item 6: a transaction kept after its callback returned refuses every call and cannot touch a later batch', async () => {
    const store = open(tmpDir())
    let leaked: Transaction | undefined
    await store.transaction((t) => { leaked = t; t.write('a', '1'); t.readString('a') })
    const seen = await store.transaction((t) => {
      t.write('b', '2')
      const during = t.readString('b') // this batch's txn is held now
      const errors: unknown[] = []
      for (const call of [() => leaked!.write('c', '3'), () => leaked!.readString('a'), () => leaked!.remove('a')]) {
        try { call() } catch (e) { errors.push(e) }
      }
      return { during, errors }
    })
    expect(seen.during).toBe('2')
    expect(seen.errors).toHaveLength(3)
    for (const e of seen.errors) expect(e).toBeInstanceOf(TransactionFinishedError)
    expect([store.readString('a'), store.readString('b'), store.exists('c')]).toEqual(['1', '2', false])
    store.close()
  })

  it('item 6: views of earlier batches collected while later batches hold theirs never end them (generations)', () => {
    const d = tmpDir()
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', `
      const { open } = require(${JSON.stringify(ROOT)});
      const store = open(process.argv[1]);
      (async () => {
        for (let round = 0; round < 30; round++) {
          await Promise.all(Array.from({ length: 8 }, (_, i) => store.transaction((t) => {
            t.write('r/' + round + '/' + i, 'v');
            if (i === 4) globalThis.gc();
            return t.readString('r/' + round + '/' + i);
          })));
          await new Promise((res) => setImmediate(res)); // finalizers run here
        }
        for (let round = 0; round < 30; round++) if (store.list('r/' + round).length !== 8) throw new Error('round ' + round + ' lost writes');
        store.close();
        console.log('ok');
      })().catch((e) => { console.error(e); process.exit(1) });
    `, d], { encoding: 'utf8', timeout: 60_000 })
    expect(r.stderr).toBe('')
    expect(r.stdout.trim()).toBe('ok')
  })

  it('item 7: at maxMapSize only the callback that does not fit rejects; the others of its batch commit', async () => {
    const store = open(tmpDir(), { mapSize: 256 * 1024, maxMapSize: 1 * MiB })
    const outcomes = await Promise.allSettled([
      store.transaction((t) => { t.write('small/1', 'a') }),
      store.transaction((t) => { for (let k = 0; k < 40; k++) t.write(`big/${k}`, Buffer.alloc(64 * 1024, k)) }),
      store.transaction((t) => { t.write('small/2', 'b') })
    ])
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    const reason = (outcomes[1] as PromiseRejectedResult).reason
    expect(reason).toBeInstanceOf(MapFullError)
    expect(reason.retryable).toBe(false)
    expect(store.list('small')).toEqual(['1', '2'])
    expect(store.list('big')).toEqual([])
    store.close()
  })

  it('item 7: a callback that catches MapFullError and returns normally still rejects with it; the others commit', async () => {
    const store = open(tmpDir(), { mapSize: 256 * 1024, maxMapSize: 1 * MiB })
    let caught: unknown
    const outcomes = await Promise.allSettled([
      store.transaction((t) => { t.write('small/1', 'a') }),
      store.transaction((t) => {
        for (let k = 0; k < 40; k++) t.write(`big/${k}`, Buffer.alloc(64 * 1024, k))
        try { t.readString('small/1') } catch (e) { caught = e }
        return 'swallowed'
      }),
      store.transaction((t) => { t.write('small/2', t.readString('small/1') + 'b') })
    ])
    expect(caught).toBeInstanceOf(MapFullError)
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(MapFullError)
    expect(store.readString('small/2')).toBe('ab')
    expect(store.list('big')).toEqual([])
    store.close()
  })

  for (const reading of [false, true]) {
    it(`item 8: MAP_FULL: 200 callbacks of 32 KiB on a 1 MiB map each run exactly once (${reading ? 'reading' : 'write-only'} callbacks)`, async () => {
      const store = open(tmpDir(), { mapSize: 1 * MiB, maxMapSize: 1024 * MiB })
      const runs = new Array(200).fill(0)
      const results = await Promise.all(runs.map((_, i) => store.transaction((t) => {
        runs[i]++
        t.write(`v/${i}`, Buffer.alloc(32 * 1024, i % 251))
        return reading ? t.read(`v/${i}`)!.length : i
      })))
      expect(runs).toEqual(new Array(200).fill(1))
      expect(results).toEqual(runs.map((_, i) => reading ? 32 * 1024 : i))
      expect(store.list('v')).toHaveLength(200)
      expect(store.stat().mapSize).toBeGreaterThan(1 * MiB)
      store.close()
    })
  }

  it('item 9: only MAP_FULL grows the map: throwing, empty, released and closed batches do not', async () => {
    const d = tmpDir()
    const store = open(d, { mapSize: 4 * MiB })
    await store.transaction((t) => t.write('seed', '1'))
    const size = store.stat().mapSize
    // every callback throws
    await Promise.allSettled(Array.from({ length: 5 }, () => store.transaction((t) => { t.write('x', '1'); throw new Error('no') })))
    // callbacks that write nothing
    await Promise.all(Array.from({ length: 5 }, () => store.transaction(() => 1)))
    // a batch whose txn was held for a read and then released (the reader threw)
    await Promise.allSettled([store.transaction((t) => { t.readString('seed'); throw new Error('no') })])
    // pending callbacks rejected by close()
    const pending = store.transaction((t) => t.write('y', '1'))
    expect(store.stat().mapSize).toBe(size)
    store.close()
    await expect(pending).rejects.toBeInstanceOf(StoreClosedError)
    const again = open(d, { mapSize: 4 * MiB })
    expect(again.exists('x')).toBe(false)
    expect(again.exists('y')).toBe(false)
    again.close()
  })

  it('item 10: another process grows the map while this writer waits for the lock: reads and the batch never see MDB_MAP_RESIZED', async () => {
    const d = tmpDir()
    const store = open(d, { mapSize: 1 * MiB, maxMapSize: 1024 * MiB })
    await store.transaction((t) => t.write('seed', '1'))
    const other = new Child(`
      const { open } = require(${JSON.stringify(ROOT)});
      const s = open(process.argv[1], { mapSize: 64 * 1024 * 1024, maxMapSize: 1024 * 1024 * 1024 });
      let txn;
      onCommand((c) => {
        if (c.do === 'hold') { txn = s.begin(); return { held: true } }
        if (c.do === 'grow') {
          for (let i = 0; i < 160; i++) txn.write('big/' + i, Buffer.alloc(64 * 1024, i));
          txn.commit();
          // take the lock again at once and keep it a while: this process's
          // writer goes on waiting while the reads below need the new size
          const again = s.begin();
          setTimeout(() => again.abort(), 300);
          return { committed: s.stat().usedBytes }
        }
        if (c.do === 'close') { s.close(); return { closed: true } }
      });
      reply({ ready: true });
    `, [d])
    expect(await other.next()).toEqual({ ready: true })
    expect(await other.send({ do: 'hold' })).toEqual({ held: true })
    // this writer now waits for the other process's lock
    const batch = store.transaction((t) => { t.write('mine', 'after'); return 'ok' })
    await new Promise((r) => setTimeout(r, 100))
    const grown = await other.send({ do: 'grow' })
    expect(grown.committed).toBeGreaterThan(1 * MiB) // past this process's map
    // reads right after, while the writer still waits for the lock: the
    // new size is adopted as soon as the writer comes back (it sees the
    // resize too when it gets the lock); no read fails meanwhile
    const reads: string[] = []
    for (let i = 0; i < 50; i++) {
      reads.push(store.readString('seed')!)
      expect(store.read('big/159')!.length).toBe(64 * 1024)
    }
    expect(new Set(reads)).toEqual(new Set(['1']))
    expect(await batch).toBe('ok')
    expect(store.readString('mine')).toBe('after')
    expect(store.stat().mapSize).toBeGreaterThan(1 * MiB)
    expect(await other.send({ do: 'close' })).toEqual({ closed: true })
    await other.close()
    store.close()
  })

  it('item 12: a dropped store is collected, idle or with work in flight; its reader slot and writer thread are freed', () => {
    const d = tmpDir()
    open(d).close()
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', `
      const fs = require('fs');
      const { open } = require(${JSON.stringify(ROOT)});
      const threads = () => fs.readdirSync('/proc/self/task').filter((t) => {
        try { return fs.readFileSync('/proc/self/task/' + t + '/comm', 'utf8').trim() === 'lmdb-txn-writer' } catch { return false }
      }).length;
      const observer = open(process.argv[1]);
      const baseReaders = observer.stat().readers;
      const collected = [];
      const registry = new FinalizationRegistry((name) => collected.push(name));
      const settled = [];
      (async () => {
        (() => {
          const idle = open(process.argv[1]);
          registry.register(idle, 'idle');
          idle.read('x');
          return idle.transaction((t) => t.write('idle', '1'));
        })().then(() => settled.push('idle'));
        // with work in flight: the promises still settle, then it goes
        (() => {
          const busy = open(process.argv[1]);
          registry.register(busy, 'busy');
          busy.read('x');
          for (let i = 0; i < 50; i++) busy.transaction((t) => t.write('busy/' + i, '1')).then(() => settled.push('busy'));
        })();
        await new Promise((res) => setImmediate(res));
        if (threads() < 1) throw new Error('no writer thread started');
        for (let i = 0; i < 200 && collected.length < 2; i++) {
          await new Promise((res) => setTimeout(res, 10));
          globalThis.gc();
        }
        await new Promise((res) => setTimeout(res, 50));
        globalThis.gc();
        await new Promise((res) => setTimeout(res, 50));
        console.log(JSON.stringify({
          collected: collected.sort(), settled: settled.length, threads: threads(),
          readers: observer.stat().readers - baseReaders, busy: observer.list('busy').length
        }));
        observer.close();
      })().catch((e) => { console.error(e); process.exit(1) });
    `, d], { encoding: 'utf8', timeout: 60_000 })
    expect(r.stderr).toBe('')
    expect(JSON.parse(r.stdout)).toEqual({ collected: ['busy', 'idle'], settled: 51, threads: 0, readers: 0, busy: 50 })
  })
})

function dir (store: { path: string }): string { return store.path }
