/**
 * `lmdb-txn dump/load --format mdb` (LMDB's mdb_dump text format) and
 * `check --deep` (LMDB's page accounting), through the CLI as a user runs it.
 * Interchange with the real mdb_dump / mdb_load / mdb_stat is checked by
 * interop/lmdb-utils.test.ts (`npm run test:interop`, in .ci/run).
 */
import { describe, expect, it } from 'vitest'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { open } from './helpers/lib'
import { ROOT } from './helpers/child'
import { tmpDir } from './helpers/tmp'
import { deepCheck, mdbText, rawDump, rawLoad } from './helpers/raw'
import { cli, sampleStore } from './helpers/mdb-sample'

describe('dump --format mdb / load --format mdb', () => {
  it('a dump of every database loads into a new directory as the same records (bytevalue and print)', () => {
    const dir = sampleStore()
    const dump = cli(['dump', '--format', 'mdb', '-a', dir])
    expect(dump.code, dump.stderr).toBe(0)
    expect(dump.stdout).toMatch(/^VERSION=3\nformat=bytevalue\ndatabase=changes\n[^]*\nVERSION=3\nformat=bytevalue\ndatabase=data\ntype=btree\nmapsize=\d+\nmaxreaders=\d+\ndb_pagesize=4096\nHEADER=END\n/)
    expect(dump.stdout.match(/^DATA=END$/gm)).toHaveLength(4) // changes, data, meta, sync
    const print = cli(['dump', '--format', 'mdb', '-a', '-p', dir])
    expect(print.stdout).toContain(' \\01back\\\\slash and \\0a newline\n')
    for (const text of [dump.stdout, print.stdout]) {
      const copy = path.join(tmpDir('mdbfmt'), 'copy')
      const load = cli(['load', '--format', 'mdb', copy], text)
      expect(load.code, load.stderr).toBe(0)
      expect(load.stdout).toMatch(/^loaded 306 records into 4 databases \(changes, data, meta, sync\) of /)
      expect(cli(['dump', '--format', 'mdb', '-a', copy]).stdout.replace(/mapsize=\d+/g, '')).toBe(dump.stdout.replace(/mapsize=\d+/g, ''))
      const store = open(copy)
      expect(store.readString('latest/body')).toBe('back\\slash and \n newline')
      expect([...store.read('msg/1/bin')!]).toEqual([0, 255, 92, 10])
      store.close()
      expect(cli(['check', '--deep', copy]).code).toBe(0)
    }
  })

  it('the main database alone (like mdb_dump without -a) and one named database (-s)', () => {
    const dir = sampleStore()
    const main = cli(['dump', '--format', 'mdb', dir])
    expect(main.stdout).not.toMatch(/database=/)
    expect(main.stdout).toMatch(/HEADER=END\n 6368616e676573\n [0-9a-f]{96}\n 64617461\n [0-9a-f]{96}\n 6d657461\n [0-9a-f]{96}\n 73796e63\n [0-9a-f]{96}\nDATA=END\n$/) // "changes", "data", "meta", "sync": MDB_db records
    const meta = rawDump(dir, 'meta').pairs
    expect(meta.map(([k]) => k.toString())).toEqual(['format-version', 'store-id'])
    expect(meta[0][1]).toEqual(Buffer.from([1, 0, 0, 0]))
    expect(meta[1][1]).toHaveLength(16)
    const none = cli(['dump', '--format', 'mdb', '-s', 'nope', dir])
    expect(none.code).toBe(1)
    expect(none.stderr).toMatch(/^lmdb-txn: cannot dump .*no database named nope\n$/)
  })

  it('crafts records the model forbids (for check to find); load into an existing store needs --merge', () => {
    const dir = sampleStore()
    const refused = cli(['load', '--format', 'mdb', dir], mdbText('data', [['x', '\u0009']]))
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/is a store already: .* or pass --merge\n$/)
    rawLoad(dir, 'data', [[Buffer.from([0x62, 0xff]), Buffer.from([1, 0x78])], ['tag', Buffer.from([9])]])
    const r = cli(['check', dir])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/^FAILED: 2 errors/m)
  })

  it('bad input is refused before anything is written (exit 1, one line)', () => {
    const cases: Array<[string, RegExp]> = [
      ['VERSION=2\n', /line 1: expected VERSION=3/],
      ['VERSION=3\nformat=bytevalue\nHEADER=END\n zz\n 00\nDATA=END\n', /line 4: not hex/],
      ['VERSION=3\nformat=print\nHEADER=END\n a\\q\n 00\nDATA=END\n', /line 4: bad escape/],
      ['VERSION=3\nformat=bytevalue\nHEADER=END\n 00\nDATA=END\n', /a key without a value/],
      ['VERSION=3\nformat=bytevalue\nHEADER=END\n 00\n 00\n', /truncated dump: no DATA=END/],
      ['VERSION=3\nformat=json\n', /unsupported format=json/],
      ['VERSION=3\nformat=bytevalue\nbogus=1\n', /unknown header field bogus/],
      ['', /empty dump/]
    ]
    for (const [input, message] of cases) {
      const dir = path.join(tmpDir('mdbfmt'), 'never')
      const r = cli(['load', '--format', 'mdb', dir], input)
      expect(r.code, input).toBe(1)
      expect(r.stderr).toMatch(/^lmdb-txn: stdin: [^\n]*; nothing was written\n$/)
      expect(r.stderr).toMatch(message)
      expect(fs.existsSync(dir)).toBe(false)
    }
    expect(cli(['dump', '--format', 'xml', tmpDir('mdbfmt')]).code).toBe(2)
    expect(cli(['dump', '-a', tmpDir('mdbfmt')]).code).toBe(2)
  })
})

describe('check --deep', () => {
  it('reports LMDB\'s page accounting: in use = tree pages + free pages + 2 meta', () => {
    const dir = sampleStore()
    const { code, report } = deepCheck(dir)
    expect(code).toBe(0)
    const l = report.lmdb
    expect(l.balanced).toBe(true)
    expect(l.pagesUsed).toBe(l.treePages + l.freePages + 2)
    expect(l.databases.find((d: { name: string }) => d.name === 'data').entries).toBe(report.entries)
    expect(l.databases.find((d: { name: string }) => d.name === 'data').overflowPages).toBeGreaterThan(0)
    const text = cli(['check', '--deep', dir])
    expect(text.stdout).toMatch(/^pages: \d+ in use, \d+ in trees \+ \d+ free \+ 2 meta; 4096-byte pages, last txn \d+$/m)
  })

  it('a truncated data file fails it (exit 1) instead of passing', () => {
    const dir = sampleStore()
    const file = path.join(dir, 'data.mdb')
    fs.truncateSync(file, 4096 * 4)
    const r = cli(['check', '--deep', '--lmdb-only', dir])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/^error {3}LMDB cannot read the store: .*data\.mdb has 16384 bytes but its meta page needs \d+ \(truncated file\): .*MDB_CORRUPTED\)$/m)
    expect(r.stdout).toMatch(/^FAILED: 1 error$/m)
    const dump = cli(['dump', '--format', 'mdb', '-a', dir])
    expect(dump.code).toBe(1)
    expect(dump.stderr).toMatch(/^lmdb-txn: cannot dump .*truncated file\).*MDB_CORRUPTED\)\n$/)
  })
})

describe('format fidelity without lmdb-utils: a committed dump by LMDB 0.9.24\'s own mdb_dump -a', () => {
  // test/fixtures/mdb_dump-0.9.24-a.txt was printed by the real `mdb_dump -a`
  // for exactly the store written here (keys, values and map size are fixed;
  // the store id, 16 random bytes made with the store, is masked on both sides).
  const maskStoreId = (text: string): string => text.replace(/\n 73746f72652d6964\n [0-9a-f]{32}\n/, '\n 73746f72652d6964\n <store-id>\n')
  const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'mdb_dump-0.9.24-a.txt')
  function goldenStore (): string {
    const dir = tmpDir('mdbfmt')
    const s = open(dir)
    s.transactionSync((t) => {
      t.writeMessage({ path: 'msg/1', fields: { body: 'plain text', bin: new Uint8Array([0, 1, 127, 128, 255]) }, links: [{ target: 'msg/1', path: 'latest' }] })
      for (let i = 0; i < 40; i++) t.write('big/' + i, 'x'.repeat(i * 150))
    })
    s.close()
    return dir
  }

  it('our dump --format mdb -a is byte-for-byte that output', () => {
    const r = cli(['dump', '--format', 'mdb', '-a', goldenStore()])
    expect(r.code, r.stderr).toBe(0)
    expect(maskStoreId(r.stdout)).toBe(maskStoreId(fs.readFileSync(FIXTURE, 'utf8')))
  })

  it('loading that output gives the same store', () => {
    const dir = path.join(tmpDir('mdbfmt'), 'from-mdb_dump')
    const text = fs.readFileSync(FIXTURE, 'utf8')
    expect(cli(['load', '--format', 'mdb', dir], text).code).toBe(0)
    expect(cli(['dump', '--format', 'mdb', '-a', dir]).stdout).toBe(text)
    const s = open(dir)
    expect(s.readString('latest/body')).toBe('plain text')
    expect([...s.read('msg/1/bin')!]).toEqual([0, 1, 127, 128, 255])
    s.close()
  })
})
