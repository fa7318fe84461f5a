import { describe, expect, it } from 'vitest'
import {
  open, BatchError, DuplicateKeyError, InvalidPathError, KeyTooLongError, LinkLoopError, MapFullError,
  ReadOnlyError, StoreClosedError, TransactionBusyError, TransactionFinishedError, TransactionTooLargeError,
  type Store
} from './helpers/lib'
import { tmpDir } from './helpers/tmp'
import { deepCheck } from './helpers/raw'

const KiB = 1024

/** Every key with its type tag and value, read through the public API without following links. */
function contents (store: Store): Record<string, string> {
  const out: Record<string, string> = {}
  for (const key of store.keys()) {
    const type = store.type(key, { follow: false })!
    expect(['simple', 'group', 'link']).toContain(type)
    out[key] = type === 'simple' ? `=${store.readString(key)}` : type === 'link' ? `->${store.resolve(key)}` : 'group'
  }
  return out
}

/** LMDB's own view (lmdb-txn check --deep, what mdb_stat reported): readable, pages balanced. */
function mdbStatOk (dir: string): void {
  const r = deepCheck(dir)
  expect(r.code, r.stderr + JSON.stringify(r.report?.errors)).toBe(0)
  expect(r.report.lmdb.balanced).toBe(true)
  expect(r.report.lmdb.databases.map((d: { name: string | null }) => d.name)).toEqual(['(free list)', null, 'changes', 'data', 'meta', 'sync'])
}

/**
 * Seeds a store, runs `trigger` (which must throw `expected`), then checks that
 * the store still works, reopens, passes check --deep, and holds exactly the
 * committed data (`seed` plus whatever `after` commits).
 */
function survives (opts: Parameters<typeof open>[1], trigger: (store: Store, dir: string) => void, expected: new (...a: any[]) => Error): void {
  const dir = tmpDir('recover')
  const store = open(dir, opts)
  store.writeMessage({ path: 'msg/1', fields: { a: '1', b: '2' }, links: [{ target: 'msg/1', path: 'alias/1' }] })
  const before = contents(store)
  let thrown: unknown
  try { trigger(store, dir) } catch (e) { thrown = e }
  expect(thrown).toBeInstanceOf(expected)
  if (store.active) {
    expect(contents(store)).toEqual(before)
    store.transactionSync((t) => t.write('after', 'ok')) // still writable (lock not leaked)
    store.close()
  }
  mdbStatOk(dir)
  const again = open(dir)
  const after = contents(again)
  delete after.after
  expect(after).toEqual(before)
  again.close()
}

describe('after every error the store reopens consistent with exactly the committed data', () => {
  it('InvalidPathError', () => survives({}, (s) => s.transactionSync((t) => { t.write('x', '1'); t.write('a/../b', '2') }), InvalidPathError))
  it('KeyTooLongError', () => survives({}, (s) => s.transactionSync((t) => { t.write('x', '1'); t.write('k'.repeat(600), '2') }), KeyTooLongError))
  it('TransactionBusyError', () => survives({}, (s) => {
    const t = s.begin()
    t.write('x', '1')
    try { s.begin() } finally { t.abort() }
  }, TransactionBusyError))
  it('TransactionFinishedError', () => survives({}, (s) => {
    const t = s.begin()
    t.write('x', '1')
    t.abort()
    t.write('y', '1')
  }, TransactionFinishedError))
  it('TransactionTooLargeError', () => survives({ limits: { maxOps: 5 } }, (s) =>
    s.transactionSync((t) => { for (let i = 0; i < 10; i++) t.write(`x/${i}`, '1') }), TransactionTooLargeError))
  it('MapFullError (past maxMapSize)', () => survives({ mapSize: 64 * KiB, maxMapSize: 512 * KiB }, (s) =>
    s.transactionSync((t) => { for (let i = 0; i < 2000; i++) t.write(`x/${i}`, Buffer.alloc(1000)) }), MapFullError))
  it('LinkLoopError', () => survives({}, (s) => s.transactionSync((t) => {
    t.makeLink('loop/b', 'loop/a')
    t.makeLink('loop/a', 'loop/b')
    t.read('loop/a')
  }), LinkLoopError))
  it('DuplicateKeyError', () => survives({}, (s) => s.batch([{ op: 'replace', path: 'x', value: '1' }, { op: 'remove', path: 'x' }]), DuplicateKeyError))
  it('BatchError (atomic)', () => survives({}, (s) => s.batch([{ op: 'replace', path: 'x', value: '1' }, { op: 'insert', path: 'msg/1/a', value: '2' }]), BatchError))
  it('StoreClosedError (close with an open transaction)', () => survives({}, (s) => {
    const t = s.begin()
    t.write('x', '1')
    s.close()
    t.commit()
  }, StoreClosedError))
  it('ReadOnlyError', () => survives({}, (s, dir) => {
    s.close()
    const r = open(dir, { readOnly: true })
    try { r.begin() } finally { r.close() }
  }, ReadOnlyError))
  it('TypeError from a callback that returns a promise', () => survives({}, (s) =>
    s.transactionSync((t) => { t.write('x', '1'); return Promise.resolve() }), TypeError))
})
