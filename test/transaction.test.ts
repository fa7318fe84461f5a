import { describe, expect, it } from 'vitest'
import {
  open, TransactionBusyError, TransactionFinishedError, TransactionTooLargeError, StoreClosedError, ReadOnlyError
} from './helpers/lib'
import { tmpDir } from './helpers/tmp'

describe('begin … commit', () => {
  it('reads inside the transaction see its own writes, removals and links; the store does not until commit', () => {
    const store = open(tmpDir())
    store.transactionSync((txn) => { txn.write('old/v', 'committed'); txn.write('gone', 'x') })
    const txn = store.begin()
    txn.makeGroup('msg/abc')
    txn.write('msg/abc/body', 'hello')
    txn.write('msg/abc/bytes', new Uint8Array([1, 2, 3]))
    txn.makeLink('msg/abc', 'by-hash/xyz')
    txn.remove('gone')
    expect(txn.readString('msg/abc/body')).toBe('hello')
    expect([...txn.read('by-hash/xyz/bytes')!]).toEqual([1, 2, 3])
    expect(txn.list('by-hash/xyz')).toEqual(['body', 'bytes'])
    expect(txn.resolve('by-hash/xyz/body')).toBe('msg/abc/body')
    expect(txn.type('by-hash/xyz', { follow: false })).toBe('link')
    expect(txn.type('msg/abc')).toBe('group')
    expect(txn.exists('gone')).toBe(false)
    expect(txn.readString('old/v')).toBe('committed')
    // outside: last commit only
    expect(store.exists('msg/abc')).toBe(false)
    expect(store.readString('gone')).toBe('x')
    txn.commit()
    expect(txn.active).toBe(false)
    expect(store.readString('by-hash/xyz/body')).toBe('hello')
    expect(store.exists('gone')).toBe(false)
    store.close()
  })

  it('abort discards everything', () => {
    const store = open(tmpDir())
    const txn = store.begin()
    txn.write('a', '1')
    txn.makeGroup('g')
    txn.abort()
    expect(store.exists('a')).toBe(false)
    expect(store.stat().entries).toBe(0)
    store.close()
  })

  it('values read back are copies owned by JS', () => {
    const store = open(tmpDir())
    const src = Buffer.from('abcdef')
    store.transactionSync((txn) => txn.write('k', src.subarray(2, 5)))   // non-zero offset view
    src.fill(0)                                                          // writes copied at call time
    const a = store.read('k')!
    expect(Buffer.from(a).toString()).toBe('cde')
    a[0] = 0x7a
    expect(store.readString('k')).toBe('cde')
    store.close()
  })

  it('successive reads never alias, for small values and for values larger than the shared read buffer', () => {
    const store = open(tmpDir())
    const big = Buffer.alloc(200_000, 7)
    store.transactionSync((txn) => { txn.write('a', 'first'); txn.write('b', 'second'); txn.write('big', big) })
    for (const view of [store, store.snapshot()]) {
      const a = view.read('a')!
      const b = view.read('b')!
      expect(Buffer.from(a).toString()).toBe('first')
      expect(Buffer.from(b).toString()).toBe('second')
      const large = view.read('big')!
      expect(large.length).toBe(200_000)
      expect(Buffer.compare(Buffer.from(large), big)).toBe(0)
      large[0] = 1
      expect(view.read('big')![0]).toBe(7)
      expect(Buffer.from(a).toString()).toBe('first')
    }
    const txn = store.begin()
    txn.write('c', 'third')
    const c = txn.read('c')!
    expect(Buffer.from(txn.read('a')!).toString()).toBe('first')
    expect(Buffer.from(c).toString()).toBe('third')
    txn.abort()
    store.close()
  })

  it('after commit, abort or failure every method throws TransactionFinishedError', () => {
    const store = open(tmpDir())
    const committed = store.begin()
    committed.write('a', '1')
    committed.commit()
    const aborted = store.begin()
    aborted.abort()
    for (const txn of [committed, aborted]) {
      expect(() => txn.write('b', '2')).toThrow(TransactionFinishedError)
      expect(() => txn.read('a')).toThrow(TransactionFinishedError)
      expect(() => txn.list('a')).toThrow(TransactionFinishedError)
      expect(() => txn.makeGroup('g')).toThrow(TransactionFinishedError)
      expect(() => txn.makeLink('a', 'l')).toThrow(TransactionFinishedError)
      expect(() => txn.remove('a')).toThrow(TransactionFinishedError)
      expect(() => txn.commit()).toThrow(TransactionFinishedError)
      expect(() => txn.abort()).toThrow(TransactionFinishedError)
      expect(() => txn.transaction(() => 1)).toThrow(TransactionFinishedError)
      expect(txn.active).toBe(false)
    }
    try { committed.commit() } catch (e: any) { expect(e.code).toBe('TRANSACTION_FINISHED') }
    expect(store.readString('a')).toBe('1')
    store.close()
  })

  it('a second begin() on the same thread throws TransactionBusyError at once, also through another handle', () => {
    const dir = tmpDir()
    const store = open(dir)
    const other = open(dir)           // same directory: shares the LMDB environment
    const txn = store.begin()
    expect(() => store.begin()).toThrow(TransactionBusyError)
    expect(() => other.begin()).toThrow(TransactionBusyError)
    expect(() => store.transactionSync(() => 1)).toThrow(TransactionBusyError)
    expect(() => store.writeMessage({ path: 'm', fields: {} })).toThrow(TransactionBusyError)
    txn.write('a', '1')
    txn.commit()
    other.transactionSync((t) => t.write('b', '2'))
    expect(store.readString('b')).toBe('2')
    other.close()
    expect(store.readString('a')).toBe('1') // still open: the env closes with the last handle
    store.close()
  })

  it('an empty transaction commits nothing', () => {
    const store = open(tmpDir())
    const before = store.stat().lastTxnId
    store.begin().commit()
    store.transactionSync(() => undefined)
    expect(store.stat().lastTxnId).toBe(before)
    store.close()
  })

  it('using: a block left without commit aborts the transaction', () => {
    const store = open(tmpDir())
    {
      using txn = store.begin()
      txn.write('a', '1')
    }
    expect(store.exists('a')).toBe(false)
    {
      using txn = store.begin()
      txn.write('b', '1')
      txn.commit()
    }
    expect(store.exists('b')).toBe(true)
    store.begin().abort() // the lock was released by dispose
    store.close()
  })

  it('remove: one entry, or with recursive the whole subtree', () => {
    const store = open(tmpDir())
    store.transactionSync((txn) => {
      txn.makeGroup('m')
      txn.write('m/a', '1')
      txn.write('m/b/c', '2')
      txn.write('m-sibling', '3')
      txn.write('mm', '4')
    })
    store.transactionSync((txn) => {
      expect(txn.remove('m')).toBe(true)
      expect(txn.remove('m')).toBe(false)
    })
    expect(store.list('m')).toEqual(['a', 'b'])
    store.transactionSync((txn) => expect(txn.remove('m', { recursive: true })).toBe(true))
    expect(store.list('m')).toEqual([])
    expect(store.readString('m-sibling')).toBe('3')
    expect(store.readString('mm')).toBe('4')
    expect(() => store.begin().remove('x', { recursive: 'yes' as any })).toThrow(TypeError)
    store.close()
  })
})

describe('transactionSync', () => {
  it('commits on return and returns the value', () => {
    const store = open(tmpDir())
    expect(store.transactionSync((txn) => { txn.write('a', '1'); return 42 })).toBe(42)
    expect(store.readString('a')).toBe('1')
    store.close()
  })

  it('a throw aborts and rethrows the original error', () => {
    const store = open(tmpDir())
    const boom = new Error('boom')
    expect(() => store.transactionSync((txn) => { txn.write('a', '1'); throw boom })).toThrow(boom)
    expect(store.exists('a')).toBe(false)
    store.begin().abort() // lock released
    store.close()
  })

  it('an async callback or a returned thenable aborts with a TypeError', () => {
    const store = open(tmpDir())
    expect(() => store.transactionSync(async (txn) => { txn.write('a', '1') })).toThrow(TypeError)
    expect(() => store.transactionSync((txn) => { txn.write('b', '1'); return Promise.resolve(1) })).toThrow(/returned a promise/)
    expect(() => store.transactionSync((txn) => { txn.write('c', '1'); return { then () {} } })).toThrow(TypeError)
    expect(store.stat().entries).toBe(0)
    expect(() => store.transactionSync('nope' as any)).toThrow(/expects a function/)
    store.close()
  })

  it('commit()/abort() inside the callback are refused; the callback owns the outcome', () => {
    const store = open(tmpDir())
    expect(() => store.transactionSync((txn) => txn.commit())).toThrow(/managed by transactionSync/)
    expect(() => store.transactionSync((txn) => txn.abort())).toThrow(TypeError)
    store.close()
  })
})

describe('savepoints: txn.transaction(fn)', () => {
  it('a throwing nested transaction undoes only its own writes', () => {
    const store = open(tmpDir())
    store.transactionSync((txn) => {
      txn.write('outer/1', 'a')
      expect(() => txn.transaction((t) => {
        t.write('inner/1', 'b')
        t.remove('outer/1')
        expect(t.exists('inner/1')).toBe(true)
        throw new Error('undo me')
      })).toThrow('undo me')
      expect(txn.exists('inner/1')).toBe(false)
      expect(txn.readString('outer/1')).toBe('a')
      const r = txn.transaction((t) => {
        t.write('inner/2', 'c')
        // nested two deep; the inner one fails
        expect(() => t.transaction((u) => { u.write('inner/3', 'd'); throw new Error('x') })).toThrow('x')
        return 'kept'
      })
      expect(r).toBe('kept')
      txn.write('outer/2', 'e')
    })
    expect(store.list('outer')).toEqual(['1', '2'])
    expect(store.list('inner')).toEqual(['2'])
    store.close()
  })

  it('a nested callback returning a promise is undone with a TypeError; commit inside it is refused', () => {
    const store = open(tmpDir())
    const txn = store.begin()
    expect(() => txn.transaction((t) => { t.write('a', '1'); return Promise.resolve() })).toThrow(TypeError)
    expect(txn.exists('a')).toBe(false)
    expect(() => txn.transaction(() => txn.commit())).toThrow(/nested/)
    txn.write('b', '1')
    txn.commit()
    expect(store.exists('b')).toBe(true)
    store.close()
  })
})

describe('limits', () => {
  it('the op that crosses maxOps throws; the transaction is abort-only; nothing lands', () => {
    const store = open(tmpDir(), { limits: { maxOps: 3 } })
    const txn = store.begin()
    txn.write('a', '1')
    txn.write('b', '1')
    txn.transaction((t) => t.write('c', '1'))
    expect(() => txn.write('d', '1')).toThrow(TransactionTooLargeError)
    expect(() => txn.read('a')).toThrow(TransactionTooLargeError)
    expect(() => txn.commit()).toThrow(TransactionTooLargeError)
    expect(txn.active).toBe(false)
    txn.abort()
    expect(store.stat().entries).toBe(0)
    store.close()
  })

  it('ops a savepoint undid still count; maxBytes counts keys and values', () => {
    const store = open(tmpDir(), { limits: { maxOps: 2, maxBytes: 100 } })
    const txn = store.begin()
    expect(() => txn.transaction((t) => { t.write('a', '1'); throw new Error('undo') })).toThrow('undo')
    txn.write('b', '1')
    expect(() => txn.write('c', '1')).toThrow(TransactionTooLargeError)
    txn.abort()
    const big = store.begin()
    expect(() => big.write('k', 'x'.repeat(200))).toThrow(/maxBytes/)
    big.abort()
    expect(() => store.transactionSync((t) => t.write('k', 'x'.repeat(200)))).toThrow(TransactionTooLargeError)
    store.begin().abort()
    expect(store.stat().entries).toBe(0)
    store.close()
  })
})

describe('read-only and closed stores', () => {
  it('readOnly: reads work, every write form throws ReadOnlyError', () => {
    const dir = tmpDir()
    const w = open(dir)
    w.transactionSync((t) => t.write('a', '1'))
    w.close()
    const r = open(dir, { readOnly: true })
    expect(r.readString('a')).toBe('1')
    expect(() => r.begin()).toThrow(ReadOnlyError)
    expect(() => r.transactionSync(() => 1)).toThrow(ReadOnlyError)
    expect(() => r.writeMessage({ path: 'm', fields: {} })).toThrow(ReadOnlyError)
    expect(() => r.batch([{ op: 'replace', path: 'x', value: '1' }])).toThrow(ReadOnlyError)
    try { r.begin() } catch (e: any) { expect(e.code).toBe('READ_ONLY') }
    r.close()
  })

  it('close() aborts an open transaction and says so; later calls throw StoreClosedError', () => {
    const dir = tmpDir()
    const store = open(dir)
    store.transactionSync((t) => t.write('kept', '1'))
    const txn = store.begin()
    txn.write('lost', '1')
    const snap = store.snapshot()
    store.close()
    expect(() => txn.write('x', '1')).toThrow(StoreClosedError)
    expect(() => txn.commit()).toThrow(/closed while this transaction was open/)
    expect(() => snap.read('kept')).toThrow(StoreClosedError)
    expect(() => store.read('kept')).toThrow(StoreClosedError)
    expect(() => store.begin()).toThrow(StoreClosedError)
    expect(() => store.snapshot()).toThrow(StoreClosedError)
    store.close() // idempotent
    snap.close()  // idempotent
    const again = open(dir)
    expect(again.readString('kept')).toBe('1')
    expect(again.exists('lost')).toBe(false)
    again.begin().abort() // the writer lock was released
    again.close()
  })
})

describe('snapshots', () => {
  it('see one frozen commit while the store moves on', () => {
    const store = open(tmpDir())
    store.transactionSync((t) => { t.write('a', 'v1'); t.makeLink('a', 'l') })
    const snap = store.snapshot()
    store.transactionSync((t) => { t.write('a', 'v2'); t.write('b', 'new') })
    expect(snap.readString('a')).toBe('v1')
    expect(snap.readString('l')).toBe('v1')
    expect(snap.exists('b')).toBe(false)
    expect(snap.type('l', { follow: false })).toBe('link')
    expect(store.readString('a')).toBe('v2')
    // a snapshot and a write transaction coexist on one thread (MDB_NOTLS)
    const snap2 = store.snapshot()
    const txn = store.begin()
    txn.write('c', '1')
    expect(snap2.exists('c')).toBe(false)
    txn.commit()
    snap.close()
    snap2.close()
    expect(() => snap.read('a')).toThrow(TransactionFinishedError)
    store.close()
  })
})
