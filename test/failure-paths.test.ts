// Failure paths (issue #13): each test drives a failure, then checks that
// LMDB's writer is free again, that the store reopens, passes `lmdb-txn
// check`, and kept every commit made before the failure (SPEC §9).
import { describe, expect, it } from 'vitest'
import * as path from 'node:path'
import { spawnSync } from 'node:child_process'
import {
  open, ReadOnlyError, StoreClosedError, TransactionTooLargeError, type Store
} from './helpers/lib'
import { tmpDir } from './helpers/tmp'
import { ROOT } from './helpers/child'

// The raw addon (internal): item 4 feeds it arguments lib/ never would.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { addon } = require(path.join(ROOT, 'dist', 'native.js'))

const CLI = path.join(ROOT, 'bin', 'lmdb-txn.js')

/** The writer is free: a begin() on this thread neither throws nor blocks. */
function expectWriterFree (store: Store): void {
  const txn = store.begin()
  txn.abort()
}

/** Closes `store`, reopens its directory, runs `lmdb-txn check`, and compares the committed entries. */
function expectIntact (store: Store, committed: Record<string, string>): void {
  const dir = store.path
  store.close()
  const again = open(dir)
  for (const [key, value] of Object.entries(committed)) expect(again.readString(key)).toBe(value)
  again.close()
  const r = spawnSync(process.execPath, [CLI, 'check', dir, '--json'], { encoding: 'utf8', timeout: 30_000 })
  expect(r.status, r.stderr).toBe(0)
  expect(JSON.parse(r.stdout).errors).toEqual([])
}

const within = async <T>(p: Promise<T>, ms: number, what: string): Promise<T> => {
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`${what} did not settle in ${ms} ms`)), ms) })
  try { return await Promise.race([p, hung]) } finally { clearTimeout(timer) }
}

describe('limits (item 1): a transaction over its limits keeps the writer until it is aborted', () => {
  it('stays active (abort only) after TransactionTooLargeError; the README idiom releases the writer', () => {
    const store = open(tmpDir(), { durability: 'nosync', limits: { maxOps: 2 } })
    store.transactionSync((t) => t.write('kept', 'yes'))
    const txn = store.begin()
    try {
      txn.write('a', '1')
      txn.write('b', '2')
      expect(() => txn.write('c', '3')).toThrow(TransactionTooLargeError)
      expect(txn.active).toBe(true)
      expect(() => txn.read('a')).toThrow(TransactionTooLargeError)
      expect(() => txn.write('d', '4')).toThrow(TransactionTooLargeError)
    } finally {
      if (txn.active) txn.abort()
    }
    expect(txn.active).toBe(false)
    expectWriterFree(store)
    expect(store.exists('a')).toBe(false)
    expectIntact(store, { kept: 'yes' })
  })

  it('commit() of a transaction over its limits throws and releases everything itself', () => {
    const store = open(tmpDir(), { durability: 'nosync', limits: { maxBytes: 64 } })
    const txn = store.begin()
    expect(() => txn.write('big', 'x'.repeat(100))).toThrow(TransactionTooLargeError)
    expect(() => txn.commit()).toThrow(TransactionTooLargeError)
    expect(txn.active).toBe(false)
    expectWriterFree(store) // commit() released it: no abort() needed
    expect(() => txn.write('y', '1')).toThrow(TransactionTooLargeError)
    txn.abort() // nothing left to release: a no-op, not a second error
    expect(store.exists('big')).toBe(false)
    expectIntact(store, {})
  })

  it('a savepoint that crosses the limit leaves the transaction active for abort only', () => {
    const store = open(tmpDir(), { durability: 'nosync', limits: { maxOps: 2 } })
    const txn = store.begin()
    txn.write('a', '1')
    expect(() => txn.transaction((t) => { t.write('b', '2'); t.write('c', '3') })).toThrow(TransactionTooLargeError)
    expect(txn.active).toBe(true)
    expect(() => txn.commit()).toThrow(TransactionTooLargeError)
    expect(txn.active).toBe(false)
    expectWriterFree(store)
    expectIntact(store, {})
  })

  it('transactionSync whose callback swallows TransactionTooLargeError aborts and frees the writer', () => {
    const store = open(tmpDir(), { durability: 'nosync', limits: { maxOps: 1 } })
    expect(() => store.transactionSync((t) => {
      t.write('a', '1')
      try { t.write('b', '2') } catch { /* swallowed */ }
    })).toThrow(TransactionTooLargeError)
    expectWriterFree(store)
    expect(store.exists('a')).toBe(false)
    expectIntact(store, {})
  })
})

describe('thenables (item 2): a user object\'s then never leaks its errors', () => {
  const throwingThen = (): unknown => ({ then () { throw new Error('then ran') } })
  const throwingGetter = (): unknown => ({ get then () { throw new Error('then was read') } })

  it.each([['a then that throws', throwingThen], ['a then getter that throws', throwingGetter]])(
    'transactionSync returning %s: TypeError, nothing written', (_name, make) => {
      const store = open(tmpDir(), { durability: 'nosync' })
      expect(() => store.transactionSync((t) => { t.write('x', '1'); return make() })).toThrow(TypeError)
      expect(store.exists('x')).toBe(false)
      const txn = store.begin()
      expect(() => txn.transaction((t) => { t.write('y', '1'); return make() })).toThrow(TypeError)
      expect(txn.exists('y')).toBe(false)
      txn.abort()
      expectWriterFree(store)
      expectIntact(store, {})
    })

  it('store.transaction returning such a thenable rejects with TypeError; the others commit', async () => {
    const store = open(tmpDir(), { durability: 'nosync' })
    const bad = store.transaction((t) => { t.write('bad', '1'); return throwingThen() })
    const good = store.transaction((t) => { t.write('good', '1'); return 'ok' })
    await expect(bad).rejects.toBeInstanceOf(TypeError)
    await expect(good).resolves.toBe('ok')
    expect(store.exists('bad')).toBe(false)
    expectWriterFree(store)
    expectIntact(store, { good: '1' })
  })
})

describe('after close() (item 3): every method throws or rejects StoreClosedError', () => {
  it('reads, writes, batch([]), flush(), transaction() and snapshot()', async () => {
    const store = open(tmpDir(), { durability: 'nosync' })
    store.transactionSync((t) => t.write('a', '1'))
    store.close()
    const sync: Array<[string, () => unknown]> = [
      ['read', () => store.read('a')],
      ['readString', () => store.readString('a')],
      ['type', () => store.type('a')],
      ['exists', () => store.exists('a')],
      ['resolve', () => store.resolve('a')],
      ['list', () => store.list('a')],
      ['keys', () => store.keys()],
      ['readLink', () => store.readLink('a')],
      ['begin', () => store.begin()],
      ['snapshot', () => store.snapshot()],
      ['stat', () => store.stat()],
      ['transactionSync', () => store.transactionSync(() => 1)],
      ['writeMessage', () => store.writeMessage({ path: 'm', fields: {} })],
      ['batch([])', () => store.batch([])],
      ['batch([op])', () => store.batch([{ op: 'replace', path: 'b', value: '1' }])]
    ]
    for (const [name, call] of sync) expect(call, name).toThrow(StoreClosedError)
    await expect(within(store.flush(), 2000, 'flush()')).rejects.toBeInstanceOf(StoreClosedError)
    await expect(store.transaction(() => 1)).rejects.toBeInstanceOf(StoreClosedError)
    expect(store.active).toBe(false)
    expectIntact(open(store.path), { a: '1' })
  })
})

describe('arguments are converted before any lock (item 4)', () => {
  const bomb = { valueOf () { throw new Error('conversion failed') } }

  it('begin() with an argument whose conversion throws leaves the writer free', () => {
    const dir = tmpDir()
    const native = new addon.NativeStore(dir, { readOnly: false, mapSize: 1 << 20, maxMapSize: 1 << 30, maxReaders: 126, durabilityFlags: 0, maxLinkDepth: 32 })
    try {
      expect(() => native.begin(bomb, 10)).toThrow(TypeError)
      expect(() => native.begin(10, bomb)).toThrow(TypeError)
      const txn = native.begin(10, 1000) // TransactionBusyError before the fix
      txn.write('a', '1')
      expect(() => txn.beginChild(true, bomb, 10)).toThrow(TypeError)
      txn.commit() // "inside a nested transaction" before the fix: the child was pushed first
    } finally {
      native.close()
    }
    const store = open(dir)
    expectIntact(store, { a: '1' })
  })

  it('groupCommit(ops, length, ends, applied) with a bad argument throws before anything is handed over; the held batch stays usable', async () => {
    const dir = tmpDir()
    const native = new addon.NativeStore(dir, { readOnly: false, mapSize: 1 << 20, maxMapSize: 1 << 30, maxReaders: 126, durabilityFlags: 0, maxLinkDepth: 32 })
    const events: any[] = []
    let wake: (() => void) | undefined
    native.groupStart((e: any) => { events.push(e); wake?.() })
    const next = async (type: string): Promise<any> => {
      for (;;) {
        const e = events.find((x) => x.type === type)
        if (e !== undefined) return e
        await within(new Promise<void>((resolve) => { wake = resolve }), 5000, `event ${type}`)
      }
    }
    // one op (native/group_ops.h): write 'g' = '1'
    const ops = Buffer.from([1, 1, 0, 0, 0, 0x67, 1, 0, 0, 0, 0x31])
    const ends = new Uint32Array([ops.length])
    try {
      native.groupRef(true)
      const view = native.groupHold(false) // the writer holds the batch txn now
      view.applyOps(ops, 0, ops.length)
      expect(view.readString('g')).toBe('1')
      expect(() => view.applyOps(ops, bomb as any, ops.length)).toThrow(TypeError)
      expect(() => native.groupCommit(ops, bomb as any, ends, ops.length)).toThrow(TypeError)
      expect(() => native.groupCommit(ops, ops.length, ends, bomb as any)).toThrow(TypeError)
      expect(() => native.groupCommit(ops, ops.length, [ops.length] as any, ops.length)).toThrow(TypeError)
      expect(view.active).toBe(true)
      const gen = native.groupCommit(ops, ops.length, ends, ops.length)
      expect((await next('committed')).gen).toBe(gen)
    } finally {
      native.groupRef(false)
      native.close()
    }
    const store = open(dir)
    expectIntact(store, { g: '1' })
  })
})

describe('readOnly flush (item 11)', () => {
  it('flush() settles at once, even after transaction() rejected with ReadOnlyError', async () => {
    const dir = tmpDir()
    const rw = open(dir, { durability: 'nosync' })
    rw.transactionSync((t) => t.write('a', '1'))
    rw.close()
    const ro = open(dir, { readOnly: true })
    await within(ro.flush(), 2000, 'flush() before any write')
    await expect(ro.transaction(() => 1)).rejects.toBeInstanceOf(ReadOnlyError)
    await within(ro.flush(), 2000, 'flush() after a rejected transaction()')
    expect(() => ro.batch([])).toThrow(ReadOnlyError)
    expect(() => ro.begin()).toThrow(ReadOnlyError)
    expect(() => ro.transactionSync(() => 1)).toThrow(ReadOnlyError)
    expect(ro.readString('a')).toBe('1')
    ro.close()
    expectIntact(open(dir), { a: '1' })
  })
})
