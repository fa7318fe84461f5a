import { describe, expect, it } from 'vitest'
import { open, MapFullError } from './helpers/lib'
import { tmpDir } from './helpers/tmp'
import { Child, ROOT } from './helpers/child'

const KiB = 1024
const MiB = 1024 * KiB
const value = (i: number): Buffer => Buffer.alloc(1000, i % 251)

describe('map growth', () => {
  it('grows transparently from a tiny map through many doublings (callback forms)', () => {
    const store = open(tmpDir(), { mapSize: 64 * KiB, maxMapSize: 256 * MiB })
    const start = store.stat().mapSize
    // one big transaction far larger than the map: MDB_MAP_FULL, grow, re-run
    store.transactionSync((txn) => { for (let i = 0; i < 3000; i++) txn.write(`big/${i}`, value(i)) })
    // many small ones: grown before begin when nearly used
    for (let i = 0; i < 300; i++) store.writeMessage({ path: `m/${i}`, fields: { a: value(i), b: 'x' } })
    store.batch(Array.from({ length: 500 }, (_, i) => ({ op: 'insert' as const, path: `b/${i}`, value: value(i) })))
    const end = store.stat().mapSize
    expect(end).toBeGreaterThanOrEqual(start * 32)
    expect(store.list('big')).toHaveLength(3000)
    expect(Buffer.compare(Buffer.from(store.read('big/2999')!), value(2999))).toBe(0)
    expect(store.list('m')).toHaveLength(300)
    expect(store.list('b')).toHaveLength(500)
    store.close()
  })

  it('a begin() transaction hitting MDB_MAP_FULL is aborted, the map grows, MapFullError{retryable:true}', () => {
    const store = open(tmpDir(), { mapSize: 64 * KiB, maxMapSize: 64 * MiB })
    store.transactionSync((t) => t.write('kept', 'yes'))
    const txn = store.begin()
    let error: unknown
    try {
      for (let i = 0; i < 5000; i++) txn.write(`k/${i}`, value(i))
    } catch (e) { error = e }
    expect(error).toBeInstanceOf(MapFullError)
    expect((error as MapFullError).retryable).toBe(true)
    expect((error as MapFullError).code).toBe('MAP_FULL')
    expect(txn.active).toBe(false)
    expect(() => txn.write('after', '1')).toThrow(/map was full/)
    expect(store.exists('k/0')).toBe(false)
    expect(store.readString('kept')).toBe('yes')
    // retrying (as the error invites) eventually fits
    for (let attempt = 0; ; attempt++) {
      const t = store.begin()
      try {
        for (let i = 0; i < 5000; i++) t.write(`k/${i}`, value(i))
        t.commit()
        break
      } catch (e) {
        expect(e).toBeInstanceOf(MapFullError)
        expect(attempt).toBeLessThan(10)
      }
    }
    expect(store.list('k')).toHaveLength(5000)
    store.close()
  })

  it('past maxMapSize: MapFullError{retryable:false}, nothing lost, the store still works', () => {
    const dir = tmpDir()
    const store = open(dir, { mapSize: 64 * KiB, maxMapSize: 1 * MiB })
    store.transactionSync((t) => t.write('kept', 'yes'))
    let error: any
    try {
      store.transactionSync((t) => { for (let i = 0; i < 3000; i++) t.write(`k/${i}`, value(i)) })
    } catch (e) { error = e }
    expect(error).toBeInstanceOf(MapFullError)
    expect(error.retryable).toBe(false)
    expect(store.stat().mapSize).toBe(1 * MiB)
    expect(store.exists('k/0')).toBe(false)
    // batch reports it as a BatchError whose cause is the MapFullError
    let batchErr: any
    try {
      store.batch(Array.from({ length: 3000 }, (_, i) => ({ op: 'replace' as const, path: `b/${i}`, value: value(i) })))
    } catch (e) { batchErr = e }
    expect(batchErr.code).toBe('BATCH_FAILED')
    expect(batchErr.cause).toBeInstanceOf(MapFullError)
    expect(batchErr.committed).toBe(0)
    store.transactionSync((t) => t.write('small', 'fits'))
    store.close()
    const again = open(dir)
    expect(again.readString('kept')).toBe('yes')
    expect(again.readString('small')).toBe('fits')
    expect(again.exists('b/0')).toBe(false)
    again.close()
  })

  it('a held snapshot postpones growth: MapFullError{retryable:true}; growth happens once it closes', () => {
    const store = open(tmpDir(), { mapSize: 64 * KiB, maxMapSize: 64 * MiB })
    const snap = store.snapshot()
    let error: any
    try {
      store.transactionSync((t) => { for (let i = 0; i < 2000; i++) t.write(`k/${i}`, value(i)) })
    } catch (e) { error = e }
    expect(error).toBeInstanceOf(MapFullError)
    expect(error.retryable).toBe(true)
    expect(error.message).toMatch(/snapshot/)
    snap.close()
    store.transactionSync((t) => { for (let i = 0; i < 2000; i++) t.write(`k/${i}`, value(i)) })
    expect(store.list('k')).toHaveLength(2000)
    store.close()
  })

  it('a map grown by another handle/process is adopted', () => {
    const dir = tmpDir()
    const a = open(dir, { mapSize: 64 * KiB })
    a.transactionSync((t) => { for (let i = 0; i < 2000; i++) t.write(`k/${i}`, value(i)) })
    a.close()
    // reopened with a smaller requested size: LMDB keeps the larger one on disk
    const b = open(dir, { mapSize: 64 * KiB })
    expect(b.stat().mapSize).toBeGreaterThan(64 * KiB)
    expect(b.list('k')).toHaveLength(2000)
    b.close()
  })

  it('a map grown by another process while we are open is adopted invisibly (MDB_MAP_RESIZED)', async () => {
    const dir = tmpDir()
    const store = open(dir, { mapSize: 64 * KiB })
    store.transactionSync((t) => t.write('seed', '1'))
    const child = new Child(`
      const { open } = require(${JSON.stringify(ROOT)});
      const store = open(process.argv[1], { mapSize: 64 * 1024 });
      onCommand(({ n }) => {
        store.transactionSync((t) => { for (let i = 0; i < n; i++) t.write('child/' + i, Buffer.alloc(1000, 7)) });
        return { mapSize: store.stat().mapSize };
      });
      reply({ ready: true });
    `, [dir])
    try {
      await child.next()
      const { mapSize } = await child.send({ n: 3000 })
      expect(mapSize).toBeGreaterThan(1 * MiB)
      // our map is still small: reading pages past it and writing both need the new size
      expect(store.list('child')).toHaveLength(3000)
      expect(Buffer.from(store.read('child/2999')!)[0]).toBe(7)
      store.transactionSync((t) => t.write('parent', 'after'))
      expect(store.stat().mapSize).toBeGreaterThanOrEqual(mapSize)
    } finally {
      await child.close()
      store.close()
    }
  })
})
