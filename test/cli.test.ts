/**
 * The lmdb-txn command-line tool, run as a user runs it (`node bin/lmdb-txn.js
 * …` in a child process) against stores written by the library.
 */
import { describe, expect, it } from 'vitest'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { spawnSync } from 'node:child_process'
import { open, Store } from './helpers/lib'
import { tmpDir } from './helpers/tmp'
import { ROOT } from './helpers/child'

const BIN = path.join(ROOT, 'bin', 'lmdb-txn.js')
const VERSION = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version

interface Run { code: number | null, stdout: string, bytes: Buffer, stderr: string }

function cli (args: string[], opts: { input?: string | Buffer, env?: Record<string, string>, cwd?: string } = {}): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    input: opts.input ?? '',
    env: { ...process.env, LMDB_TXN_DEBUG: '', ...opts.env },
    timeout: 60_000
  })
  if (r.error) throw r.error
  return { code: r.status, stdout: r.stdout.toString('utf8'), bytes: r.stdout, stderr: r.stderr.toString('utf8') }
}

/** A one-line error without a stack trace. */
function expectOneLineError (r: Run, pattern: RegExp): void {
  expect(r.stderr).toMatch(/^lmdb-txn: [^\n]*\n$/)
  expect(r.stderr).toMatch(pattern)
  expect(r.stderr).not.toMatch(/\n\s+at /)
}

const BINARY = new Uint8Array([0, 1, 2, 0xfe, 0xff, 0x0a, 0x0d, 0x80])

/** A small store with every kind of entry, written by the library. */
function sampleStore (): string {
  const dir = tmpDir('cli')
  const store = open(dir)
  store.transactionSync((txn) => {
    txn.writeMessage({
      path: 'msg/abc',
      fields: { body: 'hello world', raw: BINARY, meta: { kind: 'note', 'unicode ü 😀': 'ünï\ncode' } }
    })
    txn.makeLink('msg/abc', 'by-hash/xyz')
    txn.makeLink('msg/missing', 'dangling')
    txn.write('a', '1')
    txn.write('a-b', '2')        // sorts between `a` and `a/c`
    txn.write('a/c', '3')
    txn.write('z/deep/er/value', 'v')  // implicit parents z, z/deep, z/deep/er
    txn.makeGroup('empty')
    txn.write('spaced name/tab\there', 'x')
  })
  store.close()
  return dir
}

/** Every literal key with what it holds, via the library (for comparisons). */
function snapshotOf (dir: string): Array<[string, string, string]> {
  const store = open(dir, { readOnly: true })
  try {
    return store.keys().map((k): [string, string, string] => {
      const type = store.type(k, { follow: false })!
      if (type === 'simple') return [k, type, Buffer.from(store.read(k)!).toString('base64')]
      if (type === 'link') {
        return [k, type, store.readLink(k)]
      }
      return [k, type, '']
    })
  } finally {
    store.close()
  }
}

/** Raw records written with the CLI's own mdb_load equivalent (no lmdb-utils needed). */
function mdbLoad (dir: string, db: string, pairs: Array<[Buffer, Buffer]>): void {
  const hex = (b: Buffer): string => ' ' + b.toString('hex') + '\n'
  const input = `VERSION=3\nformat=bytevalue\ndatabase=${db}\ntype=btree\nHEADER=END\n` +
    pairs.map(([k, v]) => hex(k) + hex(v)).join('') + 'DATA=END\n'
  const r = cli(['load', '--format', 'mdb', '--merge', '--no-progress', dir], { input })
  expect(r.code, r.stderr).toBe(0)
  expect(r.stdout).toBe(`loaded ${pairs.length} record${pairs.length === 1 ? '' : 's'} into 1 database (${db}) of ${dir}\n`)
}

const hasScript = spawnSync('script', ['--version']).status === 0

describe('lmdb-txn CLI: usage', () => {
  it('prints usage; exit 2 without a command, 0 with --help', () => {
    const none = cli([])
    expect(none.code).toBe(2)
    expect(none.stdout).toMatch(/usage: lmdb-txn <command>/)
    for (const c of ['stat', 'ls', 'get', 'tree', 'check', 'dump', 'load']) expect(none.stdout).toContain(`  ${c} <dir>`)
    const help = cli(['--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toBe(none.stdout)
  })

  it('help <command> and <command> --help show its options', () => {
    const r = cli(['help', 'get'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^usage: lmdb-txn get <dir> <path>/)
    expect(r.stdout).toContain('--hex')
    expect(cli(['check', '--help']).stdout).toContain('--strict')
  })

  it('--version prints the package version', () => {
    const r = cli(['--version'])
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(VERSION + '\n')
  })

  it('usage mistakes exit 2 with one line', () => {
    const dir = sampleStore()
    expectOneLineError(cli(['frobnicate', dir]), /unknown command 'frobnicate'/)
    expect(cli(['frobnicate']).code).toBe(2)
    const opt = cli(['ls', dir, '--colour'])
    expect(opt.code).toBe(2)
    expectOneLineError(opt, /ls: Unknown option '--colour'/)
    const args = cli(['get', dir])
    expect(args.code).toBe(2)
    expectOneLineError(args, /usage: lmdb-txn get <dir> <path>/)
    expect(cli(['stat', dir, 'extra']).code).toBe(2)
    expect(cli(['get', dir, 'a', '--hex', '--json']).code).toBe(2)
    expect(cli(['ls', dir, '--limit', 'lots']).code).toBe(2)
    expect(cli(['tree', dir, '--depth', '0']).code).toBe(2)
  })
})

describe('lmdb-txn CLI: missing and foreign directories', () => {
  const readCommands: string[][] = [['stat'], ['ls'], ['ls', '', 'a'], ['get', '', 'a'], ['tree'], ['check'], ['dump']]
  const argv = (cmd: string[], dir: string): string[] => cmd.length === 1 ? [cmd[0], dir] : [cmd[0], dir, ...cmd.slice(2)]

  it('a missing directory: exit 1, one line, nothing created', () => {
    const dir = path.join(tmpDir('cli'), 'nope')
    for (const cmd of readCommands) {
      const r = cli(argv(cmd, dir))
      expect(r.code, cmd.join(' ')).toBe(1)
      expectOneLineError(r, /no such directory: .*nope/)
      expect(r.stdout).toBe('')
      expect(fs.existsSync(dir)).toBe(false)
    }
  })

  it('a directory that is not a store, and a file', () => {
    const dir = tmpDir('cli')
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'hello')
    for (const cmd of readCommands) {
      const r = cli(argv(cmd, dir))
      expect(r.code, cmd.join(' ')).toBe(1)
      expectOneLineError(r, /not an lmdb-txn store: .* \(no data\.mdb in it\)/)
    }
    expect(fs.readdirSync(dir)).toEqual(['notes.txt'])
    const file = path.join(dir, 'notes.txt')
    expectOneLineError(cli(['stat', file]), /not a directory: /)
    expect(cli(['check', file]).code).toBe(1)
  })

  it('an LMDB environment of another program', () => {
    const dir = tmpDir('cli')
    const r0 = cli(['load', '--format', 'mdb', dir], {
      input: 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n hello\n world\nDATA=END\n'
    })
    expect(r0.code, r0.stderr).toBe(0)
    expect(r0.stdout).toMatch(/^loaded 1 record into 1 database \(\(main\)\) of /)
    const before = fs.readFileSync(path.join(dir, 'data.mdb'))
    for (const cmd of readCommands) {
      const r = cli(argv(cmd, dir))
      expect(r.code, cmd.join(' ')).toBe(1)
      expectOneLineError(r, /not an lmdb-txn store: .*holds an LMDB environment that is not an lmdb-txn store/)
    }
    const load = cli(['load', dir], { input: '{"format":"lmdb-txn-dump","version":1}\n{"end":true,"entries":0}\n' })
    expect(load.code).toBe(1)
    expectOneLineError(load, /not an lmdb-txn store/)
    expect(fs.readFileSync(path.join(dir, 'data.mdb')).equals(before)).toBe(true)
  })

  it('a store of an unknown format version: check fails with exit 1', () => {
    const dir = sampleStore()
    const v = Buffer.alloc(4)
    v.writeUInt32LE(7)
    mdbLoad(dir, 'meta', [[Buffer.from('format-version'), v]])
    const r = cli(['check', dir])
    expect(r.code).toBe(1)
    expectOneLineError(r, /has store format version 7; this lmdb-txn reads version 1/)
    expect(cli(['stat', dir]).code).toBe(1)
  })
})

describe('lmdb-txn CLI: stat', () => {
  it('shows entries and sizes; --json has the numbers', () => {
    const dir = sampleStore()
    const entries = snapshotOf(dir).length
    const r = cli(['stat', dir])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(new RegExp(`^store\\s+${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'))
    expect(r.stdout).toMatch(new RegExp(`^entries\\s+${entries}$`, 'm'))
    expect(r.stdout).toMatch(/^LMDB\s+0\.9\.\d+$/m)
    const j = JSON.parse(cli(['stat', dir, '--json']).stdout)
    expect(j).toMatchObject({ path: dir, entries, pageSize: expect.any(Number), lmdbVersion: expect.stringMatching(/^0\.9\./) })
    expect(j.fileBytes).toBeGreaterThan(0)
    expect(j.usedBytes).toBeGreaterThan(0)
  })

  it('opens read-only: a store held by a writer in this process is not blocked', () => {
    const dir = sampleStore()
    const store = open(dir)
    const txn = store.begin()
    txn.write('pending', 'x')
    try {
      const r = cli(['stat', dir, '--json'])
      expect(r.code).toBe(0)
      expect(JSON.parse(r.stdout).entries).toBe(snapshotOf(dir).length)
    } finally {
      txn.abort()
      store.close()
    }
  })
})

describe('lmdb-txn CLI: ls', () => {
  it('the top level: first segments of every key, bytewise, no duplicates', () => {
    const dir = sampleStore()
    const r = cli(['ls', dir])
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(['a', 'a-b', 'by-hash', 'dangling', 'empty', 'msg', 'spaced name', 'z'].join('\n') + '\n')
    expect(cli(['ls', dir, '/']).stdout).toBe(r.stdout)
    expect(JSON.parse(cli(['ls', dir, '--json']).stdout)).toEqual(r.stdout.trim().split('\n'))
  })

  it('a path; links at the path are followed', () => {
    const dir = sampleStore()
    expect(cli(['ls', dir, 'msg/abc']).stdout).toBe('body\nmeta\nraw\n')
    expect(cli(['ls', dir, 'by-hash/xyz']).stdout).toBe('body\nmeta\nraw\n')
    expect(cli(['ls', dir, '/msg//abc/meta/']).stdout).toBe('kind\nunicode ü 😀\n')
    expect(cli(['ls', dir, 'z']).stdout).toBe('deep\n')
    const empty = cli(['ls', dir, 'empty'])
    expect(empty.code).toBe(0)
    expect(empty.stdout).toBe('')
  })

  it('--after and --limit page through names', () => {
    const dir = sampleStore()
    expect(cli(['ls', dir, 'msg/abc', '--limit', '2']).stdout).toBe('body\nmeta\n')
    expect(cli(['ls', dir, 'msg/abc', '--after', 'body', '--limit', '1']).stdout).toBe('meta\n')
    expect(cli(['ls', dir, '--after', 'dangling', '--limit', '2']).stdout).toBe('empty\nmsg\n')
  })

  it('-l shows types, sizes, link targets and children', () => {
    const dir = sampleStore()
    const top = cli(['ls', '-l', dir]).stdout.split('\n')
    expect(top).toContain('simple        1 B  a/')
    expect(top).toContain('-               -  by-hash/')
    expect(top).toContain('link            -  dangling -> msg/missing  (dangling)')
    expect(top).toContain('group           -  empty')
    const abc = cli(['ls', '-l', dir, 'msg/abc']).stdout
    expect(abc).toBe([
      'simple       11 B  body',
      'group           -  meta/',
      'simple        8 B  raw',
      ''
    ].join('\n'))
    const hash = cli(['ls', '-l', dir, 'by-hash']).stdout
    expect(hash).toBe('link            -  xyz -> msg/abc\n')
    const json = JSON.parse(cli(['ls', '-l', '--json', dir, 'by-hash']).stdout)
    expect(json).toEqual([{ name: 'xyz', path: 'by-hash/xyz', type: 'link', target: 'msg/abc', dangling: false, children: false }])
  })

  it('a missing path, a dangling link, an invalid path: exit 1', () => {
    const dir = sampleStore()
    expectOneLineError(cli(['ls', dir, 'nothing/here']), /no such path: nothing\/here/)
    const d = cli(['ls', dir, 'dangling'])
    expect(d.code).toBe(1)
    expectOneLineError(d, /dangling is a link to msg\/missing, which does not exist/)
    const bad = cli(['ls', dir, 'a/../b'])
    expect(bad.code).toBe(1)
    expectOneLineError(bad, /'\.\.'/)
  })
})

describe('lmdb-txn CLI: get', () => {
  it('writes the raw bytes of a value, links followed', () => {
    const dir = sampleStore()
    const raw = cli(['get', dir, 'msg/abc/raw'])
    expect(raw.code).toBe(0)
    expect(new Uint8Array(raw.bytes)).toEqual(BINARY)
    expect(cli(['get', dir, 'by-hash/xyz/raw']).bytes.equals(raw.bytes)).toBe(true)
    expect(cli(['get', dir, 'msg/abc/body']).stdout).toBe('hello world')
  })

  it('--string, --hex and --json', () => {
    const dir = sampleStore()
    expect(cli(['get', dir, 'by-hash/xyz/meta/unicode ü 😀', '--string']).stdout).toBe('ünï\ncode\n')
    expect(cli(['get', dir, 'msg/abc/raw', '--hex']).stdout)
      .toBe('00000000  00 01 02 fe ff 0a 0d 80                           |........|\n')
    expect(cli(['get', dir, 'msg/abc/body', '--hex']).stdout)
      .toBe('00000000  68 65 6c 6c 6f 20 77 6f  72 6c 64                 |hello world|\n')
    expect(JSON.parse(cli(['get', dir, 'by-hash/xyz/raw', '--json']).stdout)).toEqual({
      path: 'by-hash/xyz/raw', resolved: 'msg/abc/raw', type: 'simple', size: 8, base64: Buffer.from(BINARY).toString('base64')
    })
    expect(JSON.parse(cli(['get', dir, 'a', '--json']).stdout)).toEqual({ path: 'a', resolved: 'a', type: 'simple', size: 1, utf8: '1' })
  })

  it('no value: missing, group, implicit parent, dangling link, invalid path → exit 1', () => {
    const dir = sampleStore()
    const cases: Array<[string, RegExp]> = [
      ['nothing', /no such path: nothing/],
      ['msg/abc', /msg\/abc is a group, not a value/],
      ['by-hash/xyz', /by-hash\/xyz is a group, not a value/],
      ['z/deep', /z\/deep has no value, only children/],
      ['dangling', /dangling is a link to msg\/missing, which holds no value/],
      ['a/./b', /'\.' segment|invalid|\./]
    ]
    for (const [p, re] of cases) {
      const r = cli(['get', dir, p])
      expect(r.code, p).toBe(1)
      expect(r.stdout).toBe('')
      expectOneLineError(r, re)
    }
  })
})

describe('lmdb-txn CLI: tree', () => {
  it('draws the whole store: groups end in /, sizes, links not entered', () => {
    const dir = sampleStore()
    const r = cli(['tree', dir])
    expect(r.code).toBe(0)
    expect(r.stdout).toBe([
      dir,
      '├── a  (1 B)',
      '│   └── c  (1 B)',
      '├── a-b  (1 B)',
      '├── by-hash',
      '│   └── xyz -> msg/abc',
      '├── dangling -> msg/missing  (dangling)',
      '├── empty/',
      '├── msg',
      '│   └── abc/',
      '│       ├── body  (11 B)',
      '│       ├── meta/',
      '│       │   ├── kind  (4 B)',
      '│       │   └── unicode ü 😀  (10 B)',
      '│       └── raw  (8 B)',
      '├── spaced name',
      '│   └── tab\there  (1 B)',
      '└── z',
      '    └── deep',
      '        └── er',
      '            └── value  (1 B)',
      '',
      '3 groups, 9 values, 2 links, 6 paths without an entry',
      ''
    ].join('\n'))
  })

  it('a subtree, through a link, with --depth and --ascii', () => {
    const dir = sampleStore()
    expect(cli(['tree', dir, 'by-hash/xyz', '--depth', '1', '--ascii']).stdout).toBe([
      'by-hash/xyz -> msg/abc/',
      '|-- body  (11 B)',
      '|-- meta/',
      '`-- raw  (8 B)',
      '',
      '1 group, 2 values, 0 links',
      ''
    ].join('\n'))
    expect(cli(['tree', dir, 'z', '-L', '2']).stdout).toBe('z\n└── deep\n    └── er\n\n0 groups, 0 values, 0 links, 2 paths without an entry\n')
    expectOneLineError(cli(['tree', dir, 'no/such']), /no such path: no\/such/)
  })
})

describe('lmdb-txn CLI: check', () => {
  it('a clean store passes; a dangling link is a warning (exit 0), an error with --strict', () => {
    const dir = sampleStore()
    const r = cli(['check', dir])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^warning "dangling": dangling link to "msg\/missing"$/m)
    expect(r.stdout).toMatch(/checked 14 entries in [\d.]+s: 9 values \(\d+ B\), 3 groups, 2 links \(1 dangling\)/)
    expect(r.stdout).toMatch(/^OK: 0 errors, 1 warning$/m)
    const strict = cli(['check', '--strict', dir])
    expect(strict.code).toBe(1)
    expect(strict.stdout).toMatch(/^FAILED: 0 errors, 1 warning$/m)
    const j = JSON.parse(cli(['check', dir, '--json']).stdout)
    expect(j).toMatchObject({ ok: true, entries: 14, simple: 9, group: 3, link: 2, dangling: 1, errors: [] })
    expect(j.warnings).toEqual([{ key: 'dangling', message: 'dangling link to "msg/missing"' }])
  })

  it('link loops are errors (exit 1)', () => {
    const dir = sampleStore()
    const store = open(dir)
    store.transactionSync((t) => {
      t.makeLink('loop/b', 'loop/a')
      t.makeLink('loop/a', 'loop/b')
      t.makeLink('self/x', 'self')   // self → self/x → self/x/x …
    })
    store.close()
    const r = cli(['check', dir])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/^error {3}"loop\/a": link loop: /m)
    expect(r.stdout).toMatch(/^error {3}"loop\/b": link loop: /m)
    expect(r.stdout).toMatch(/^error {3}"self": link loop: /m)
    expect(r.stdout).toMatch(/^FAILED: 3 errors, 1 warning$/m)
  })

  it('a store corrupted with load --format mdb: bad tags, non-normalised and non-UTF-8 keys (exit 1)', () => {
    const dir = sampleStore()
    mdbLoad(dir, 'data', [
      [Buffer.from('bad/tag'), Buffer.from([0x07, 0x68, 0x69])],
      [Buffer.from('bad/empty'), Buffer.alloc(0)],
      [Buffer.from('bad//slashes'), Buffer.from([0x01, 0x78])],
      [Buffer.from('bad/dot/../x'), Buffer.from([0x01, 0x78])],
      [Buffer.from([0x62, 0x61, 0x64, 0x2f, 0xff, 0xfe]), Buffer.from([0x01, 0x78])],
      [Buffer.from('bad/link'), Buffer.from([0x03, ...Buffer.from('a//b')])]
    ])
    const r = cli(['check', dir])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/^error {3}"bad\/tag": bad value: .*no valid lmdb-txn type tag$/m)
    expect(r.stdout).toMatch(/^error {3}"bad\/empty": bad value: .*no valid lmdb-txn type tag$/m)
    expect(r.stdout).toMatch(/^error {3}"bad\/\/slashes": key is not a normalised path/m)
    expect(r.stdout).toMatch(/^error {3}"bad\/dot\/\.\.\/x": key has a "\." or "\.\." segment$/m)
    expect(r.stdout).toMatch(/^error {3}"bad\/\uFFFD+": listed but not found by its name/m)
    expect(r.stdout).toMatch(/^error {3}"bad\/link": link target "a\/\/b" is not a normalised path/m)
    expect(r.stdout).toMatch(/^FAILED: 6 errors, \d+ warnings?$/m)
    // dump refuses what it cannot represent
    const d = cli(['dump', dir])
    expect(d.code).toBe(1)
    expectOneLineError(d, /run: lmdb-txn check/)
  })

  it('walks stores larger than one page of keys', () => {
    const dir = tmpDir('cli')
    const store = open(dir, { durability: 'nosync' })
    store.transactionSync((t) => {
      for (let i = 0; i < 2500; i++) t.write(`k/${String(i).padStart(5, '0')}`, `v${i}`)
      for (let i = 0; i < 30; i++) t.makeLink(`k/${String(i).padStart(5, '0')}`, `l${i}`)
    })
    store.close()
    const r = cli(['check', dir, '--json'])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, entries: 2530, simple: 2500, link: 30 })
    expect(cli(['ls', dir]).stdout.split('\n').length).toBe(32)  // k, l0…l29, trailing ''
  })

  it('a key that is not UTF-8 at a page boundary stops the walk with an error', () => {
    const dir = tmpDir('cli')
    const store = open(dir, { durability: 'nosync' })
    store.transactionSync((t) => { for (let i = 0; i < 1100; i++) t.write(`k${String(i).padStart(5, '0')}`, 'v') })
    store.close()
    // sorts right after k01022: the 1024th key, the last of the first page
    mdbLoad(dir, 'data', [[Buffer.from([...Buffer.from('k01022'), 0xff]), Buffer.from([0x01, 0x78])]])
    const r = cli(['check', dir])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/walk stopped: cannot walk past key/)
  })
})

describe('lmdb-txn CLI: dump and load', () => {
  it('round trip into a fresh directory: same keys, types, values and links', () => {
    const dir = sampleStore()
    const dumped = cli(['dump', dir])
    expect(dumped.code).toBe(0)
    expect(dumped.stderr).toBe('')
    const target = path.join(tmpDir('cli'), 'restored', 'store')
    const loaded = cli(['load', target], { input: dumped.bytes })
    expect(loaded.code, loaded.stderr).toBe(0)
    expect(loaded.stdout).toBe(`loaded 14 entries (9 values, 3 groups, 2 links) into ${target}\n`)
    expect(snapshotOf(target)).toEqual(snapshotOf(dir))
    // reads through the library agree too
    const a = open(dir, { readOnly: true })
    const b = open(target, { readOnly: true })
    for (const p of ['by-hash/xyz/raw', 'by-hash/xyz/meta/kind', 'dangling', 'z/deep', 'msg/abc']) {
      expect(b.read(p)).toEqual(a.read(p))
      expect(b.type(p)).toEqual(a.type(p))
      expect(b.resolve(p)).toEqual(a.resolve(p))
      expect(b.list(p)).toEqual(a.list(p))
    }
    a.close()
    b.close()
    // and a dump of the copy is the same dump (apart from the header's time)
    const again = cli(['dump', target]).stdout.split('\n')
    expect(again.slice(1)).toEqual(dumped.stdout.split('\n').slice(1))
  })

  it('the format: header, one ASCII JSON line per entry in key order, trailer', () => {
    const dir = sampleStore()
    const out = cli(['dump', dir])
    for (const byte of out.bytes) expect(byte === 0x0a || (byte >= 0x20 && byte < 0x7f)).toBe(true)
    const lines = out.stdout.trimEnd().split('\n').map((l) => JSON.parse(l))
    expect(lines[0]).toMatchObject({ format: 'lmdb-txn-dump', version: 1, tool: `lmdb-txn ${VERSION}` })
    expect(lines.at(-1)).toEqual({ end: true, entries: 14 })
    const entries = lines.slice(1, -1)
    expect(entries.map((e) => e.key)).toEqual(snapshotOf(dir).map(([k]) => k))
    expect(entries).toContainEqual({ key: 'msg/abc', type: 'group' })
    expect(entries).toContainEqual({ key: 'msg/abc/body', type: 'simple', utf8: 'hello world' })
    expect(entries).toContainEqual({ key: 'msg/abc/raw', type: 'simple', base64: Buffer.from(BINARY).toString('base64') })
    expect(entries).toContainEqual({ key: 'msg/abc/meta/unicode ü 😀', type: 'simple', utf8: 'ünï\ncode' })
    expect(entries).toContainEqual({ key: 'by-hash/xyz', type: 'link', target: 'msg/abc' })
    expect(entries).toContainEqual({ key: 'dangling', type: 'link', target: 'msg/missing' })
    expect(entries).toContainEqual({ key: 'spaced name/tab\there', type: 'simple', utf8: 'x' })
  })

  it('-o writes a file (same content as stdout) and load reads a file; CRLF is accepted', () => {
    const dir = sampleStore()
    const file = path.join(tmpDir('cli'), 'backup.jsonl')
    const r = cli(['dump', dir, '-o', file])
    expect(r.code).toBe(0)
    expect(r.stdout).toBe('')
    expect(fs.readdirSync(path.dirname(file))).toEqual(['backup.jsonl'])
    const text = fs.readFileSync(file, 'utf8')
    expect(text.split('\n').slice(1)).toEqual(cli(['dump', dir]).stdout.split('\n').slice(1))
    const crlf = path.join(path.dirname(file), 'crlf.jsonl')
    fs.writeFileSync(crlf, text.replace(/\n/g, '\r\n'))
    const target = tmpDir('cli')   // an existing, empty directory
    expect(cli(['load', target, crlf]).code).toBe(0)
    expect(snapshotOf(target)).toEqual(snapshotOf(dir))
  })

  it('load is one transaction: lastTxnId moves by exactly one for 3,000 entries', () => {
    const src = tmpDir('cli')
    const s = open(src, { durability: 'nosync' })
    s.transactionSync((t) => {
      for (let i = 0; i < 1000; i++) {
        t.makeGroup(`m/${i}`)
        t.write(`m/${i}/v`, Buffer.alloc(50, i))
        t.makeLink(`m/${i}`, `h/${i}`)
      }
    })
    s.close()
    const dumpText = cli(['dump', src]).bytes
    const target = tmpDir('cli')
    open(target).close()   // an initialised, empty store
    const before = (() => { const t = open(target, { readOnly: true }); try { return t.stat().lastTxnId } finally { t.close() } })()
    const r = cli(['load', target], { input: dumpText })
    expect(r.code, r.stderr).toBe(0)
    const t = open(target, { readOnly: true })
    try {
      expect(t.stat().lastTxnId).toBe(before + 1)
      expect(t.stat().entries).toBe(3000)
    } finally {
      t.close()
    }
  })

  it('a bad or truncated dump writes nothing, and a new directory is not left behind', () => {
    const dir = sampleStore()
    const good = cli(['dump', dir]).stdout
    const lines = good.split('\n')
    const parent = tmpDir('cli')
    const cases: Array<[string, string, RegExp]> = [
      ['truncated', lines.slice(0, 5).join('\n') + '\n', /dump line \d+: the dump is truncated: no end line; nothing was written/],
      ['not json', [lines[0], '{"key":"x","type":"simple","utf8":"1"}', 'garbage', lines.at(-2)].join('\n'), /dump line 3: not JSON/],
      ['wrong count', [lines[0], '{"key":"x","type":"group"}', '{"end":true,"entries":2}'].join('\n'), /counts 2 entries but the dump has 1/],
      ['version', '{"format":"lmdb-txn-dump","version":2}\n{"end":true,"entries":0}\n', /dump format version 2 is not supported/],
      ['foreign', 'hello world\n', /dump line 1: not JSON/],
      ['empty', '', /empty input: no dump header/],
      ['duplicate', [lines[0], '{"key":"x","type":"group"}', '{"key":"x","type":"group"}', '{"end":true,"entries":2}'].join('\n'), /duplicate key "x"/],
      ['dotdot', [lines[0], '{"key":"a/../b","type":"group"}', '{"end":true,"entries":1}'].join('\n'), /key "a\/..\/b" has a "\." or "\.\." segment/],
      ['unnormalised', [lines[0], '{"key":"/a","type":"group"}', '{"end":true,"entries":1}'].join('\n'), /is not a normalised path/],
      ['type', [lines[0], '{"key":"a","type":"folder"}', '{"end":true,"entries":1}'].join('\n'), /unknown entry type "folder"/],
      ['base64', [lines[0], '{"key":"a","type":"simple","base64":"abc"}', '{"end":true,"entries":1}'].join('\n'), /padded base64/],
      ['both values', [lines[0], '{"key":"a","type":"simple","utf8":"x","base64":"eA=="}', '{"end":true,"entries":1}'].join('\n'), /exactly one of/],
      ['field', [lines[0], '{"key":"a","type":"group","colour":"red"}', '{"end":true,"entries":1}'].join('\n'), /unknown field "colour"/],
      ['link', [lines[0], '{"key":"a","type":"link"}', '{"end":true,"entries":1}'].join('\n'), /a link needs a string "target"/],
      ['after end', good + '{"key":"late","type":"group"}\n', /text after the end line/]
    ]
    for (const [name, input, re] of cases) {
      const target = path.join(parent, name)
      const r = cli(['load', target], { input })
      expect(r.code, name).toBe(1)
      expectOneLineError(r, re)
      expect(fs.existsSync(target), name).toBe(false)
    }
  })

  it('load refuses a store that has entries unless --merge; --merge replaces only the dumped keys', () => {
    const dir = sampleStore()
    const dumpText = cli(['dump', dir]).stdout
    const target = tmpDir('cli')
    const s = open(target)
    s.transactionSync((t) => { t.write('a', 'old'); t.write('mine', 'kept') })
    s.close()
    const before = snapshotOf(target)
    const r = cli(['load', target], { input: dumpText })
    expect(r.code).toBe(1)
    expectOneLineError(r, /already has entries: load into a new or empty store, or pass --merge/)
    expect(snapshotOf(target)).toEqual(before)
    const m = cli(['load', '--merge', target, '-'], { input: dumpText })
    expect(m.code, m.stderr).toBe(0)
    const after = new Map(snapshotOf(target).map(([k, t, v]) => [k, [t, v]]))
    expect(after.get('mine')).toEqual(['simple', Buffer.from('kept').toString('base64')])
    expect(after.get('a')).toEqual(['simple', Buffer.from('1').toString('base64')])
    expect(after.size).toBe(15)
  })

  it('load refuses a non-empty directory that is not a store, and a missing input file', () => {
    const dir = tmpDir('cli')
    fs.writeFileSync(path.join(dir, 'keep.txt'), 'x')
    const r = cli(['load', dir], { input: '{"format":"lmdb-txn-dump","version":1}\n{"end":true,"entries":0}\n' })
    expect(r.code).toBe(1)
    expectOneLineError(r, /not an lmdb-txn store: .*no data\.mdb, and the directory is not empty/)
    expect(fs.readdirSync(dir)).toEqual(['keep.txt'])
    const missing = cli(['load', path.join(dir, 'new'), path.join(dir, 'no-such.jsonl')])
    expect(missing.code).toBe(1)
    expectOneLineError(missing, /cannot read .*no-such\.jsonl/)
    expect(fs.existsSync(path.join(dir, 'new'))).toBe(false)
  })

  it('a link to a link is dumped as stored, not collapsed', () => {
    const dir = sampleStore()
    const s = open(dir)
    s.transactionSync((t) => { t.makeLink('by-hash/xyz', 'alias'); t.makeLink('by-hash/xyz/body', 'deep-alias') })
    s.close()
    const out = cli(['dump', dir]).stdout
    expect(out).toContain('{"key":"alias","type":"link","target":"by-hash/xyz"}\n')
    expect(out).toContain('{"key":"deep-alias","type":"link","target":"by-hash/xyz/body"}\n')
    const target = tmpDir('cli')
    expect(cli(['load', target], { input: out }).code).toBe(0)
    expect(snapshotOf(target)).toEqual(snapshotOf(dir))
  })
})

describe('lmdb-txn CLI: progress bar', () => {
  it('is never drawn when stdout is not a terminal', () => {
    const dir = sampleStore()
    for (const args of [['check', dir], ['dump', dir]]) {
      const r = cli(args, { env: { LMDB_TXN_PROGRESS_DELAY_MS: '0' } })
      expect(r.stdout).not.toMatch(/\r|\x1b/)
      expect(r.stderr).toBe('')
    }
  })

  it.runIf(hasScript)('is drawn on a terminal for a long run, erased before the report; --no-progress turns it off', () => {
    const dir = sampleStore()
    const inPty = (args: string): string => {
      const r = spawnSync('script', ['-qec', `"${process.execPath}" "${BIN}" ${args}`, '/dev/null'], {
        encoding: 'utf8', env: { ...process.env, LMDB_TXN_PROGRESS_DELAY_MS: '0', COLUMNS: '100' }, timeout: 60_000
      })
      expect(r.status, r.stderr).toBe(0)
      return r.stdout
    }
    const tty = inPty(`check "${dir}"`)
    expect(tty).toMatch(/\r\x1b\[2Kcheck \[#*-*\] +\d+% \d+\/14 /)
    expect(tty).toMatch(/\r\x1b\[2K(warning|checked)/)   // erased before the next line
    expect(tty).toMatch(/OK: 0 errors, 1 warning/)
    expect(inPty(`check --no-progress "${dir}"`)).not.toMatch(/\x1b/)
    // dump to stdout on a terminal: the dump itself is the output, no bar
    expect(inPty(`dump "${dir}"`)).not.toMatch(/\x1b/)
  })
})
