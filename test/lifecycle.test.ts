import { describe, expect, it } from 'vitest'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { spawnSync } from 'node:child_process'
import * as lib from './helpers/lib'
import { open, FormatError, LmdbError, TransactionBusyError } from './helpers/lib'
import { tmpDir } from './helpers/tmp'
import { ROOT } from './helpers/child'
import { rawDump, rawLoad, rawLoadText } from './helpers/raw'

describe('errors', () => {
  it.each([
    ['InvalidPathError', 'INVALID_PATH'],
    ['KeyTooLongError', 'KEY_TOO_LONG'],
    ['TransactionBusyError', 'TRANSACTION_BUSY'],
    ['TransactionFinishedError', 'TRANSACTION_FINISHED'],
    ['TransactionTooLargeError', 'TRANSACTION_TOO_LARGE'],
    ['MapFullError', 'MAP_FULL'],
    ['LinkLoopError', 'LINK_LOOP'],
    ['DuplicateKeyError', 'DUPLICATE_KEY'],
    ['BatchError', 'BATCH_FAILED'],
    ['StoreClosedError', 'STORE_CLOSED'],
    ['ReadOnlyError', 'READ_ONLY'],
    ['FormatError', 'FORMAT'],
    ['LmdbError', 'LMDB_ERROR']
  ])('%s is an exported Error subclass with code %s', (name, code) => {
    const Cls = (lib as any)[name]
    expect(typeof Cls).toBe('function')
    const args: Record<string, unknown[]> = {
      MapFullError: ['m', false], DuplicateKeyError: ['m', 'p', [0, 1]], BatchError: ['m', 0, {}, 0, null], LmdbError: ['m', 'EIO', 5]
    }
    const err = new Cls(...(args[name] ?? ['m']))
    expect(err).toBeInstanceOf(Error)
    expect(err).toBeInstanceOf(lib.LmdbTxnError)
    expect(err.code).toBe(code)
    expect(err.name).toBe(name)
  })
})

describe('open()', () => {
  it('validates options with precise TypeError / RangeError before touching the disk', () => {
    const dir = path.join(tmpDir(), 'never-created')
    expect(() => open(dir, { durability: 'fast' as any })).toThrow(/durability must be/)
    expect(() => open(dir, { mapSize: -1 })).toThrow(RangeError)
    expect(() => open(dir, { mapSize: 1.5 })).toThrow(/mapSize must be an integer/)
    expect(() => open(dir, { mapSize: 1 << 30, maxMapSize: 1 << 20 })).toThrow(/must not exceed maxMapSize/)
    expect(() => open(dir, { readOnly: 'yes' as any })).toThrow(/readOnly must be a boolean/)
    expect(() => open(dir, { maxLinkDepth: -1 })).toThrow(RangeError)
    expect(() => open(dir, { limits: { maxOps: 0 } })).toThrow(/limits.maxOps/)
    expect(() => open(dir, { limits: { maxOpz: 1 } as any })).toThrow(/unknown option 'limits.maxOpz'/)
    expect(() => open(dir, { mapsize: 1 } as any)).toThrow(/unknown option 'mapsize'/)
    expect(() => open('' as any)).toThrow(TypeError)
    expect(() => open(dir, 'x' as any)).toThrow(/options must be an object/)
    expect(fs.existsSync(dir)).toBe(false)
  })

  it('every method refuses an unknown or misspelt option with a TypeError naming it, before it acts', async () => {
    const store = open(tmpDir(), { durability: 'nosync', changeLog: true })
    store.transactionSync((t) => { t.write('g/a', '1'); t.write('g/b', '2') })
    const bad = { recusive: true } as any
    expect(() => store.list('g', bad)).toThrow(/list\(\): unknown option 'recusive' \(known: after, limit\)/)
    expect(() => store.keys(bad)).toThrow(/keys\(\): unknown option 'recusive'/)
    expect(() => store.type('g', bad)).toThrow(/type\(\): unknown option 'recusive'/)
    expect(() => store.changes(bad)).toThrow(/changes\(\): unknown option 'recusive'/)
    expect(() => store.batch([{ op: 'insert', path: 'n', value: '1' }], { atomc: false } as any)).toThrow(/batch\(\): unknown option 'atomc'/)
    await expect(store.watch(bad).next()).rejects.toThrow(/watch\(\): unknown option 'recusive'/)
    await expect(store.backup(path.join(tmpDir(), 'copy'), bad)).rejects.toThrow(/backup\(\): unknown option 'recusive'/)
    expect(() => store.list('g', [] as any)).toThrow(/list\(\): options must be an object/)
    store.transactionSync((t) => {
      expect(() => t.remove('g', { recusive: true } as any)).toThrow(TypeError)
      expect(() => t.remove('g', { recusive: true } as any)).toThrow(/remove\(\): unknown option 'recusive' \(known: recursive\)/)
    })
    expect(store.list('g').sort()).toEqual(['a', 'b']) // nothing was removed
    expect(store.exists('n')).toBe(false)               // nothing was inserted
    store.close()
  })

  it('creates the directory, and reports stat()', () => {
    const dir = path.join(tmpDir(), 'a', 'b')
    const store = open(dir, { durability: 'nosync' })
    store.transactionSync((t) => { t.write('x', '1'); t.makeGroup('g') })
    const s = store.stat()
    expect(s.entries).toBe(2)
    expect(s.durability).toBe('nosync')
    expect(s.path).toBe(dir)
    expect(s.readers).toBeGreaterThanOrEqual(1)
    expect(s.usedBytes).toBeGreaterThan(0)
    expect(s.usedBytes).toBeLessThanOrEqual(s.mapSize)
    expect(s.lmdbVersion).toMatch(/^0\.9\./)
    store.close()
  })

  it('refuses an LMDB environment that is not an lmdb-txn store (FormatError), and an unknown format version', () => {
    // A foreign environment: written by a tiny LMDB program through our addon
    // is not possible, so write a store, then corrupt its version in place.
    const dir = tmpDir()
    const store = open(dir)
    store.transactionSync((t) => t.write('a', '1'))
    store.close()
    // rewrite format-version 1 → 99 in the raw meta database (lmdb-txn dump/load --format mdb)
    const dump = rawDump(dir, 'meta')
    expect(dump.pairs.map(([k]) => k.toString())).toEqual(['format-version', 'store-id'])
    expect(dump.pairs[0][1]).toEqual(Buffer.from([1, 0, 0, 0]))
    const patched = dump.text.replace(/\n 01000000\n/, '\n 63000000\n')
    expect(patched).not.toBe(dump.text)
    rawLoadText(dir, patched)
    expect(() => open(dir)).toThrow(FormatError)
    expect(() => open(dir)).toThrow(/format version 99/)
    // a foreign environment: main DB holds a plain key
    const foreign = tmpDir()
    rawLoadText(foreign, 'VERSION=3\nformat=print\ntype=btree\nmapsize=1048576\nmaxreaders=126\ndb_pagesize=4096\nHEADER=END\n hello\n world\nDATA=END\n')
    expect(() => open(foreign)).toThrow(FormatError)
    expect(() => open(foreign)).toThrow(/not an lmdb-txn store/)
  })

  it('readOnly where no store exists is an LmdbError ENOENT that says so', () => {
    const empty = tmpDir()
    expect(() => open(empty, { readOnly: true })).toThrow(/no store here/)
    try {
      open(path.join(empty, 'missing'), { readOnly: true })
      expect.unreachable()
    } catch (e: any) {
      expect(e).toBeInstanceOf(LmdbError)
      expect(e.lmdbCode).toBe('ENOENT')
    }
    const file = path.join(empty, 'file')
    fs.writeFileSync(file, 'x')
    expect(() => open(file)).toThrow(/EEXIST|ENOTDIR/)
  })

  it('the same directory opened twice shares one environment; the last close closes it', () => {
    const dir = tmpDir()
    const a = open(dir)
    const b = open(path.join(dir, '.'))
    a.transactionSync((t) => t.write('x', '1'))
    expect(b.readString('x')).toBe('1')
    expect(a.stat().readers).toBe(b.stat().readers) // one reader table entry set, not two envs
    a.close()
    expect(b.readString('x')).toBe('1')
    b.transactionSync((t) => t.write('y', '2'))
    b.close()
    const c = open(dir)
    expect(c.readString('y')).toBe('2')
    c.close()
  })
})

describe('finalizers', () => {
  it('a write transaction whose object is garbage-collected is aborted and frees the writer lock', () => {
    const dir = tmpDir()
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', `
      const { open } = require(${JSON.stringify(ROOT)});
      const store = open(process.argv[1]);
      (function leak () { const t = store.begin(); t.write('leaked', 'x') })();
      let tries = 0;
      const attempt = () => {
        globalThis.gc();
        try {
          const t = store.begin(); t.write('after', 'ok'); t.commit();
          console.log(JSON.stringify({ tries, leaked: store.exists('leaked'), after: store.readString('after') }));
        } catch (e) {
          if (e.code !== 'TRANSACTION_BUSY' || ++tries > 50) throw e;
          setImmediate(attempt);
        }
      };
      attempt();
    `, '--', dir], { encoding: 'utf8', timeout: 20_000 })
    expect(r.stderr).toBe('')
    const out = JSON.parse(r.stdout)
    expect(out.leaked).toBe(false)
    expect(out.after).toBe('ok')
  })

  it('a forgotten snapshot is closed when collected (its reader slot is freed)', () => {
    const dir = tmpDir()
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', `
      const { open } = require(${JSON.stringify(ROOT)});
      const store = open(process.argv[1], { maxReaders: 8 });
      // more forgotten snapshots than reader slots: only works if they are released
      let i = 0;
      const step = () => {
        for (let k = 0; k < 4; k++, i++) store.snapshot().read('x');
        globalThis.gc();
        if (i < 200) setImmediate(step); else console.log('ok ' + i);
      };
      step();
    `, '--', dir], { encoding: 'utf8', timeout: 20_000 })
    expect(r.stderr).toBe('')
    expect(r.stdout.trim()).toBe('ok 200')
  })
})

describe('busy is immediate, never a deadlock', () => {
  it('transactionSync inside a transactionSync callback throws TransactionBusyError', () => {
    const store = open(tmpDir())
    expect(() => store.transactionSync(() => store.transactionSync(() => 1))).toThrow(TransactionBusyError)
    store.transactionSync((t) => t.write('ok', '1'))
    store.close()
  })
})

describe('malformed entries', () => {
  it('a value with an unknown tag or a group marker with a payload is a FormatError, not a crash', () => {
    const dir = tmpDir()
    open(dir).close()
    // raw records (lmdb-txn load --format mdb): "bad" = tag 9, "g" = group tag + payload
    rawLoad(dir, 'data', [['bad', Buffer.from([9, 0x78])], ['g', Buffer.from([2, 0x7a, 0x7a])]])
    const store = open(dir)
    expect(() => store.read('bad')).toThrow(FormatError)
    expect(() => store.type('g')).toThrow(/malformed group marker/)
    expect(store.keys()).toEqual(['bad', 'g'])
    store.transactionSync((t) => t.write('bad', 'fixed'))
    expect(store.readString('bad')).toBe('fixed')
    store.close()
  })
})
