// The public surface (issue #13, item 13): internals are private at run time
// and absent from the declarations; options cannot change under a handle;
// txn.store is always there; one liveness name, `active`, on every handle.
import { describe, expect, it } from 'vitest'
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as lib from './helpers/lib'
import { open, MapFullError, Snapshot, Store, Transaction, TransactionTooLargeError } from './helpers/lib'
import { tmpDir } from './helpers/tmp'
import { ROOT } from './helpers/child'

const dist = (file: string): string => fs.readFileSync(path.join(ROOT, 'dist', file), 'utf8')

describe('internals are private', () => {
  it('a transaction exposes no native handle or manager, in any form', async () => {
    const store = open(tmpDir(), { durability: 'nosync' })
    const seen: unknown[] = []
    const probe = (txn: Transaction): void => {
      for (const name of ['native', 'managedBy']) {
        expect(name in txn, name).toBe(false)
        seen.push((txn as any)[name])
      }
      expect(Object.getOwnPropertyNames(txn)).toEqual([])
    }
    const txn = store.begin()
    probe(txn)
    txn.transaction(probe)
    txn.abort()
    store.transactionSync((t) => { probe(t); t.write('a', '1') })
    await store.transaction(probe)
    expect(seen.every((v) => v === undefined)).toBe(true)
    expect(store.readString('a')).toBe('1')
    store.close()
  })

  it('Store, Transaction and Snapshot cannot be constructed directly', () => {
    const store = open(tmpDir(), { durability: 'nosync' })
    const native = {} as any
    expect(() => new (Store as any)(store.path, store.options)).toThrow(TypeError)
    expect(() => new (Transaction as any)(native, undefined, store)).toThrow(TypeError)
    expect(() => new (Snapshot as any)(native, store)).toThrow(TypeError)
    store.close()
  })

  it('MapFullError has no internal `grown`; the package exports no nativeSourceHash', () => {
    expect('grown' in new MapFullError('m', true)).toBe(false)
    expect('nativeSourceHash' in lib).toBe(false)
  })

  it('the declarations carry none of it', () => {
    const tx = dist('transaction.d.ts')
    expect(tx).not.toMatch(/\bnative\s*:|managedBy|newTransaction/)
    expect(tx).toMatch(/private constructor\(\);/)
    expect(dist('store.d.ts')).toMatch(/private constructor\(\);/)
    expect(dist('snapshot.d.ts')).toMatch(/private constructor\(\);/)
    expect(dist('errors.d.ts')).not.toMatch(/readonly grown|function createNativeError/)
    expect(dist('index.d.ts')).not.toMatch(/nativeSourceHash/)
  })
})

describe('the declarations, as a consumer type-checks them (no skipLibCheck)', () => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const ts = require('typescript') as typeof import('typescript')
  const diagnostics = (source: string): string[] => {
    const file = path.join(ROOT, 'dist', '__consumer_check.ts')
    const options = { noEmit: true, strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, types: ['node'], lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'], skipLibCheck: false }
    const host = ts.createCompilerHost(options)
    const read = host.readFile
    host.readFile = (f) => path.resolve(f) === file ? source : read(f)
    host.fileExists = ((exists) => (f: string) => path.resolve(f) === file || exists(f))(host.fileExists)
    const program = ts.createProgram([file], options, host)
    return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))
  }

  it('the public surface compiles, and the internals are not in it', () => {
    expect(diagnostics(`import { open, type Transaction, type ReadMessageResult, type EntryInfo, type EntryType } from './index'
      const s = open('x'); const t: Transaction = s.begin()
      const ok: boolean = s.active && t.active && s.snapshot().active && t.store === s
      const n: number | undefined = s.readInto('a', new Uint8Array(1)); void ok; void n
      const m: ReadMessageResult | undefined = t.readMessage('m', { depth: 2, links: 'follow', encoding: 'utf8' })
      const e: Array<[string, EntryInfo]> = s.snapshot().entries('m', { after: 'a', limit: 2, values: false })
      for (const [name, info] of s.iterate({ prefix: 'm/' }, { pageSize: 10 })) { const k: string = name; const ty: EntryType | undefined = info.type; void k; void ty }
      const many: Array<Uint8Array | string | undefined> = s.readMany(['a'], { encoding: 'binary' }); void m; void e; void many`)).toEqual([])
    const bad = diagnostics(`import { Store, Transaction, Snapshot, MapFullError } from './index'
      new Store(); new Transaction(); new Snapshot()
      declare const t: Transaction; t.native; t.managedBy; new MapFullError('m', true).grown
      t.readMessage('m', { links: 'yes' }); t.iterate(3)`)
    expect(bad.join('\n')).toMatch(/Constructor of class 'Store' is private/)
    expect(bad.join('\n')).toMatch(/Constructor of class 'Transaction' is private/)
    expect(bad.join('\n')).toMatch(/Constructor of class 'Snapshot' is private/)
    expect(bad.join('\n')).toMatch(/'native' does not exist/)
    expect(bad.join('\n')).toMatch(/'managedBy' does not exist/)
    expect(bad.join('\n')).toMatch(/'grown' does not exist/)
    expect(bad.join('\n')).toMatch(/Type '"yes"' is not assignable to type '"keep" \| "follow"/)
    expect(bad.join('\n')).toMatch(/'number' is not assignable to parameter of type 'string \| \{ prefix: string; \}'/)
  }, 120_000) // a whole TypeScript program: seconds, more on a loaded machine
})

describe('store.options', () => {
  it('is frozen all the way down: limits cannot be changed under the handle', () => {
    const store = open(tmpDir(), { durability: 'nosync', limits: { maxOps: 3 } })
    expect(Object.isFrozen(store.options)).toBe(true)
    expect(Object.isFrozen(store.options.limits)).toBe(true)
    expect(() => { (store.options.limits as any).maxOps = 1 }).toThrow(TypeError)
    expect(store.options.limits.maxOps).toBe(3)
    // enforcement is what open() was given
    store.transactionSync((t) => { t.write('a', '1'); t.write('b', '2'); t.write('c', '3') })
    expect(() => store.transactionSync((t) => { for (const k of ['d', 'e', 'f', 'g']) t.write(k, '1') })).toThrow(TransactionTooLargeError)
    store.close()
  })
})

describe('txn.store', () => {
  it('is the handle, in begin(), savepoints, transactionSync and transaction callbacks', async () => {
    const store = open(tmpDir(), { durability: 'nosync' })
    const txn = store.begin()
    expect(txn.store).toBe(store)
    txn.transaction((t) => expect(t.store).toBe(store))
    txn.abort()
    expect(store.transactionSync((t) => t.store)).toBe(store)
    expect(await store.transaction((t) => t.store)).toBe(store)
    store.close()
  })
})

describe('liveness', () => {
  it('is `active` on Store, Transaction and Snapshot, and nothing else', () => {
    const store = open(tmpDir(), { durability: 'nosync' })
    const snap = store.snapshot()
    const txn = store.begin()
    expect([store.active, txn.active, snap.active]).toEqual([true, true, true])
    expect('isOpen' in store).toBe(false)
    expect('open' in snap).toBe(false)
    txn.abort()
    snap.close()
    expect([store.active, txn.active, snap.active]).toEqual([true, false, false])
    const snap2 = store.snapshot()
    store.close()
    expect([store.active, snap2.active]).toEqual([false, false])
  })
})
