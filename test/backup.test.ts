/**
 * store.backup(dest, { compact }) (issue 17): a hot copy that opens, passes
 * `lmdb-txn check --deep` and holds exactly one commit while writers run;
 * its destination rules; every error path; its lifetime across close(),
 * garbage collection and a write transaction held on the JS thread.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as v8 from 'node:v8'
import * as vm from 'node:vm'
import { spawnSync } from 'node:child_process'
import { BackupTargetError, LmdbError, StoreClosedError, open, type Store } from './helpers/lib'
import { tmpDir } from './helpers/tmp'
import { Child, ROOT } from './helpers/child'
import { buildShim, shimBuildError } from './crash/lib/shim'

const BIN = path.join(ROOT, 'bin', 'lmdb-txn.js')
const opened: Store[] = []
const children: Child[] = []
afterEach(async () => {
  for (const s of opened.splice(0)) s.close()
  for (const c of children.splice(0)) await c.close()
})

function openStore (dir: string, options: Parameters<typeof open>[1] = {}): Store {
  const s = open(dir, options)
  opened.push(s)
  return s
}

/** `lmdb-txn check --deep --json` on a directory: exit code and report. */
function deepCheck (dir: string): { code: number | null, report: any, stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'check', dir, '--deep', '--json'], { encoding: 'utf8', timeout: 60_000 })
  let report: any
  try { report = JSON.parse(r.stdout) } catch { report = r.stdout }
  return { code: r.status, report, stderr: r.stderr }
}

/** File descriptors of this process open on `file` (the environment holds data.mdb open). */
function fdsOn (file: string): number {
  const real = fs.realpathSync(file)
  let n = 0
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try { if (fs.readlinkSync(`/proc/self/fd/${fd}`) === real) n++ } catch { /* closed meanwhile */ }
  }
  return n
}

async function settledWithin (p: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false
  p.then(() => { settled = true }, () => { settled = true })
  await new Promise((resolve) => setTimeout(resolve, ms))
  return settled
}

async function rejection (p: Promise<unknown>): Promise<any> {
  try {
    await p
  } catch (err) {
    return err
  }
  throw new Error('expected a rejection')
}

function sample (dir: string, n = 500): Store {
  const s = openStore(dir, { changeLog: true })
  s.transactionSync((txn) => {
    for (let i = 0; i < n; i++) txn.writeMessage({ path: `msg/${i}`, fields: { body: `hello ${i}`, n: String(i) } })
    txn.makeLink('msg/1', 'first')
  })
  return s
}

/** A child holding this directory's LMDB write lock on demand. */
function lockHolder (dir: string): Child {
  const c = new Child(`
    const { open } = require('.')
    const store = open(process.argv[1])
    let txn
    onCommand((cmd) => {
      if (cmd.op === 'begin') { txn = store.begin(); txn.write('held', cmd.value); return { ok: true } }
      if (cmd.op === 'commit') { txn.commit(); return { ok: true } }
    })
    reply({ ready: true })
  `, [dir])
  children.push(c)
  return c
}

describe('backup: the copy', () => {
  for (const compact of [false, true]) {
    it(`${compact ? 'compact' : 'plain'}: creates dest, holds the data, the store id and the change log, passes check --deep`, async () => {
      const root = tmpDir('backup')
      const s = sample(path.join(root, 'src'))
      s.transactionSync((txn) => txn.remove('msg/7', { recursive: true })) // free pages for compact to drop
      const dest = path.join(root, 'nested', 'dest')
      const result = await s.backup(dest, { compact })
      expect(result).toEqual({ path: path.join(dest, 'data.mdb'), bytes: fs.statSync(path.join(dest, 'data.mdb')).size, compact })
      expect(fs.readdirSync(dest)).toEqual(['data.mdb'])
      const copy = openStore(dest, { readOnly: true })
      expect(copy.stat().storeId).toBe(s.stat().storeId)
      expect(copy.readString('msg/499/body')).toBe('hello 499')
      expect(copy.type('msg/7')).toBeUndefined()
      expect(copy.resolve('first')).toBe('msg/1')
      expect(copy.stat().entries).toBe(s.stat().entries)
      expect(copy.lastChangeSeq()).toBe(s.lastChangeSeq())
      expect(copy.changes()).toEqual(s.changes())
      copy.close()
      const checked = deepCheck(dest)
      expect(checked.code, checked.stderr + JSON.stringify(checked.report)).toBe(0)
      // The copy is a store: it takes writes.
      const w = openStore(dest)
      w.transactionSync((txn) => txn.write('after', 'x'))
      expect(w.readString('after')).toBe('x')
    })
  }

  it('compact drops free pages: smaller than the plain copy of a store with many', async () => {
    const root = tmpDir('backup')
    const s = openStore(path.join(root, 'src'))
    s.transactionSync((txn) => { for (let i = 0; i < 2000; i++) txn.write(`k/${i}`, 'x'.repeat(1000)) })
    s.transactionSync((txn) => txn.remove('k', { recursive: true }))
    s.transactionSync((txn) => txn.write('k/keep', 'y'))
    const plain = await s.backup(path.join(root, 'plain'))
    const compact = await s.backup(path.join(root, 'compact'), { compact: true })
    expect(compact.bytes).toBeLessThan(plain.bytes / 4)
    const c = openStore(path.join(root, 'compact'), { readOnly: true })
    expect(c.list('k')).toEqual(['keep'])
  })

  it('reuses the partial file a dead backup left', async () => {
    const root = tmpDir('backup')
    const s = sample(path.join(root, 'src'), 10)
    const dest = path.join(root, 'dest')
    fs.mkdirSync(dest)
    fs.writeFileSync(path.join(dest, 'data.mdb.partial'), Buffer.alloc(1 << 20, 0xab))
    await s.backup(dest)
    expect(fs.readdirSync(dest)).toEqual(['data.mdb'])
    expect(deepCheck(dest).code).toBe(0)
  })
})

describe('backup: refusals and failures', () => {
  it('bad arguments: TypeError before anything is created', async () => {
    const root = tmpDir('backup')
    const s = sample(path.join(root, 'src'), 1)
    const dest = path.join(root, 'dest')
    const bad: Array<[unknown, unknown]> = [
      [undefined, undefined], [42, undefined], ['', undefined], [`${dest}\0x`, undefined],
      [dest, null], [dest, 'compact'], [dest, { compact: 1 }], [dest, { compact: 'yes' }]
    ]
    for (const [d, o] of bad) {
      const err = await rejection((s.backup as any)(d, o))
      expect(err, String(d)).toBeInstanceOf(TypeError)
    }
    expect(fs.existsSync(dest)).toBe(false)
  })

  it('a dest already holding a data.mdb is refused and left untouched', async () => {
    const root = tmpDir('backup')
    const s = sample(path.join(root, 'src'), 5)
    const other = sample(path.join(root, 'other'), 1)
    const before = fs.readFileSync(path.join(root, 'other', 'data.mdb'))
    const err = await rejection(s.backup(path.join(root, 'other')))
    expect(err).toBeInstanceOf(BackupTargetError)
    expect(err.reason).toBe('exists')
    expect(fs.readFileSync(path.join(root, 'other', 'data.mdb')).equals(before)).toBe(true)
    expect(fs.existsSync(path.join(root, 'other', 'data.mdb.partial'))).toBe(false)
    expect(other.readString('msg/0/body')).toBe('hello 0')
  })

  it('the store\'s own directory (also through a symlink) is refused', async () => {
    const root = tmpDir('backup')
    const src = path.join(root, 'src')
    const s = sample(src, 5)
    fs.symlinkSync(src, path.join(root, 'alias'))
    for (const d of [src, path.join(root, 'alias'), src + '/']) {
      const err = await rejection(s.backup(d))
      expect(err).toBeInstanceOf(BackupTargetError)
      expect(err.reason).toMatch(/^(source|exists)$/)
      expect(err.reason).toBe('source')
    }
    expect(s.readString('msg/4/body')).toBe('hello 4')
  })

  it('a file as dest, or a dest under a file: not-a-directory', async () => {
    const root = tmpDir('backup')
    const s = sample(path.join(root, 'src'), 1)
    fs.writeFileSync(path.join(root, 'file'), 'x')
    for (const d of [path.join(root, 'file'), path.join(root, 'file', 'sub')]) {
      const err = await rejection(s.backup(d))
      expect(err).toBeInstanceOf(BackupTargetError)
      expect(err.reason).toBe('not-a-directory')
    }
    expect(fs.readFileSync(path.join(root, 'file'), 'utf8')).toBe('x')
  })

  it('an unwritable dest: not-writable with the errno, nothing written', async () => {
    const root = tmpDir('backup')
    const s = sample(path.join(root, 'src'), 1)
    let dest: string
    if (process.getuid?.() === 0) {
      dest = '/sys/kernel' // root ignores mode bits; sysfs refuses new files to anyone
    } else {
      dest = path.join(root, 'ro')
      fs.mkdirSync(dest, { mode: 0o555 })
    }
    const err = await rejection(s.backup(dest))
    expect(err).toBeInstanceOf(BackupTargetError)
    expect(err.reason).toBe('not-writable')
    expect(err.lmdbCode).toMatch(/^(EACCES|EROFS|EPERM)$/)
    expect(fs.existsSync(path.join(dest, 'data.mdb.partial'))).toBe(false)
    // Dests that cannot be created at all (mkdir fails; under /proc it fails
    // with ENOENT under an existing parent, where Node's recursive mkdir loops).
    for (const d of [path.join(dest, 'sub', 'dir'), '/proc/self/lmdb-txn-backup/x']) {
      const err2 = await rejection(s.backup(d))
      expect(err2, d).toBeInstanceOf(BackupTargetError)
      expect(err2.reason).toBe('not-writable')
    }
  })

  it('a closed store rejects with StoreClosedError and creates nothing', async () => {
    const root = tmpDir('backup')
    const s = sample(path.join(root, 'src'), 1)
    s.close()
    const err = await rejection(s.backup(path.join(root, 'dest')))
    expect(err).toBeInstanceOf(StoreClosedError)
    expect(fs.existsSync(path.join(root, 'dest'))).toBe(false)
  })

  it('a second backup into the same dest while the first runs: busy; the first completes', async () => {
    const root = tmpDir('backup')
    const s = sample(path.join(root, 'src'), 5)
    const dest = path.join(root, 'dest')
    const txn = s.begin() // the plain copy waits for the writer lock to snapshot the meta pages
    txn.write('in-flight', 'committed while the backup waited')
    const first = s.backup(dest)
    // The first holds data.mdb.partial's lock as soon as it starts on the pool.
    for (let i = 0; i < 100 && !fs.existsSync(path.join(dest, 'data.mdb.partial')); i++) await new Promise((resolve) => setTimeout(resolve, 10))
    const err = await rejection(s.backup(dest, { compact: true }))
    expect(err).toBeInstanceOf(BackupTargetError)
    expect(err.reason).toBe('busy')
    txn.commit()
    await first
    const copy = openStore(dest, { readOnly: true })
    expect(copy.readString('in-flight')).toBe('committed while the backup waited')
  })

  const shim = buildShim()
  describe.skipIf(!shim)(`I/O errors writing the copy${shim ? '' : ` (skipped: ${shimBuildError()})`}`, () => {
    // The crash shim (LD_PRELOAD) fails the N-th write or sync of data.mdb.partial.
    const cases = [
      { name: 'ENOSPC on the 2nd write', env: { CRASH_SHIM_KINDS: 'write', CRASH_SHIM_AT: '2', CRASH_SHIM_ERRNO: 'ENOSPC' }, code: 'ENOSPC' },
      { name: 'a disk that stays full from the 1st write', env: { CRASH_SHIM_KINDS: 'write', CRASH_SHIM_AT: '1', CRASH_SHIM_ERRNO: 'ENOSPC', CRASH_SHIM_STICKY: '1' }, code: 'ENOSPC' },
      { name: 'EIO from fsync', env: { CRASH_SHIM_KINDS: 'sync', CRASH_SHIM_AT: '1', CRASH_SHIM_ERRNO: 'EIO' }, code: 'EIO' }
    ]
    for (const c of cases) {
      for (const compact of [false, true]) {
        it(`${c.name}${compact ? ' (compact)' : ''}: LmdbError, no data.mdb, no partial file, the store goes on`, () => {
          const root = tmpDir('backup')
          sample(path.join(root, 'src'), 300).close()
          const script = `
            const { open } = require('.')
            const fs = require('fs')
            const [src, dest, compact] = process.argv.slice(1)
            const s = open(src)
            ;(async () => {
              const out = {}
              try { await s.backup(dest, { compact: compact === '1' }); out.resolved = true }
              catch (e) { out.name = e.name; out.code = e.lmdbCode; out.message = e.message }
              out.files = fs.readdirSync(dest)
              fs.writeFileSync(dest + '/crash-shim.ctl', 'disarm')
              fs.rmSync(dest + '/crash-shim.ctl')
              s.transactionSync((t) => t.write('later', 'ok'))
              await s.backup(dest, { compact: compact === '1' })
              out.after = fs.readdirSync(dest).sort()
              s.close()
              process.stdout.write(JSON.stringify(out))
            })()
          `
          const dest = path.join(root, 'dest')
          const r = spawnSync(process.execPath, ['-e', script, '--', path.join(root, 'src'), dest, compact ? '1' : '0'], {
            cwd: ROOT,
            encoding: 'utf8',
            timeout: 60_000,
            env: { ...process.env, LD_PRELOAD: shim!, CRASH_SHIM_FILE: 'data.mdb.partial', CRASH_SHIM_MODE: 'fail', CRASH_SHIM_ARMED: '1', ...c.env }
          })
          expect(r.status, r.stderr).toBe(0)
          const out = JSON.parse(r.stdout)
          expect(out.resolved).toBeUndefined()
          expect(out.name).toBe('LmdbError')
          expect(out.code).toMatch(c.code)
          expect(out.message).toMatch(/^backup to /)
          expect(out.files).toEqual([])
          expect(out.after).toEqual(['data.mdb'])
          expect(deepCheck(dest).code).toBe(0)
          const copy = openStore(dest, { readOnly: true })
          expect(copy.readString('later')).toBe('ok')
        })
      }
    }
  })
})

describe('backup: lifetimes and locks', () => {
  it('a plain backup waits for a begin() held on the JS thread (on the pool, no deadlock) and holds its commit', async () => {
    const root = tmpDir('backup')
    const s = sample(path.join(root, 'src'), 5)
    const txn = s.begin()
    txn.write('held', 'yes')
    const compact = s.backup(path.join(root, 'compact'), { compact: true }) // needs no writer lock
    await compact
    const plain = s.backup(path.join(root, 'plain'))
    expect(await settledWithin(plain, 200)).toBe(false)
    txn.commit()
    await plain
    const p = openStore(path.join(root, 'plain'), { readOnly: true })
    const c = openStore(path.join(root, 'compact'), { readOnly: true })
    expect(p.readString('held')).toBe('yes')
    expect(c.readString('held')).toBeUndefined()
  })

  it('close() during a backup: the backup completes, then the environment closes', async () => {
    const root = tmpDir('backup')
    const src = path.join(root, 'src')
    sample(src, 50).close()
    const holder = lockHolder(src)
    await holder.next()
    await holder.send({ op: 'begin', value: 'from the other process' })
    const s = open(src)
    expect(fdsOn(path.join(src, 'data.mdb'))).toBeGreaterThan(0)
    const p = s.backup(path.join(root, 'dest'))
    expect(await settledWithin(p, 200)).toBe(false) // waiting for the other process's writer lock
    s.close()
    expect(s.active).toBe(false)
    expect(fdsOn(path.join(src, 'data.mdb'))).toBeGreaterThan(0) // the backup keeps the env open
    await holder.send({ op: 'commit' })
    await p
    expect(fdsOn(path.join(src, 'data.mdb'))).toBe(0) // released with the backup
    const copy = openStore(path.join(root, 'dest'), { readOnly: true })
    expect(copy.readString('held')).toBe('from the other process')
    expect(copy.readString('msg/49/body')).toBe('hello 49')
  })

  it('a Store collected during a backup: the backup completes', async () => {
    v8.setFlagsFromString('--expose-gc')
    const gc = vm.runInNewContext('gc') as () => void
    const root = tmpDir('backup')
    const src = path.join(root, 'src')
    sample(src, 50).close()
    const holder = lockHolder(src)
    await holder.next()
    await holder.send({ op: 'begin', value: 'v' })
    let collected = false
    const registry = new FinalizationRegistry(() => { collected = true })
    const p = (() => {
      const s = open(src)
      registry.register(s, 'store')
      return s.backup(path.join(root, 'dest'))
    })()
    for (let i = 0; i < 50 && !collected; i++) {
      gc()
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect(collected).toBe(true)
    expect(await settledWithin(p, 50)).toBe(false)
    await holder.send({ op: 'commit' })
    const result = await p
    expect(result.bytes).toBeGreaterThan(0)
    expect(fdsOn(path.join(src, 'data.mdb'))).toBe(0)
    const copy = openStore(path.join(root, 'dest'), { readOnly: true })
    expect(copy.readString('held')).toBe('v')
  })

  it('many backups at once (more than the pool has threads) all complete', async () => {
    const root = tmpDir('backup')
    const s = sample(path.join(root, 'src'), 100)
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => s.backup(path.join(root, `d${i}`), { compact: i % 2 === 1 })))
    for (const [i, r] of results.entries()) {
      expect(r.compact).toBe(i % 2 === 1)
      const c = open(path.join(root, `d${i}`), { readOnly: true })
      expect(c.readString('msg/99/body')).toBe('hello 99')
      c.close()
    }
  })
})

describe('backup: exactly one commit while writers run', () => {
  // Each commit increments `counter` and writes message n in the same
  // transaction: a copy at counter k holds messages 1..k and no other, and
  // its change log ends with the record of commit k.
  it('another process (begin/commit) and this one (group commit) write during plain and compact backups', async () => {
    const root = tmpDir('backup')
    const src = path.join(root, 'src')
    const s = openStore(src, { changeLog: true, durability: 'nosync', mapSize: 64 << 20 })
    s.transactionSync((txn) => {
      txn.write('counter', '0')
      for (let i = 0; i < 40; i++) txn.write(`pad/${i}`, Buffer.alloc(256 * 1024, i)) // ~10 MB to copy
    })
    const writer = new Child(`
      const { open } = require('.')
      const store = open(process.argv[1], { changeLog: true, durability: 'nosync' })
      let running = false, commits = 0
      function step () {
        for (let i = 0; i < 5 && running; i++) {
          const txn = store.begin()
          const n = Number(txn.readString('counter')) + 1
          txn.writeMessage({ path: 'm/' + n, fields: { by: 'process', n: String(n) } })
          txn.write('counter', String(n))
          txn.commit()
          commits++
        }
        if (running) setImmediate(step)
      }
      onCommand((cmd) => {
        if (cmd.op === 'start') { running = true; setImmediate(step); return { ok: true } }
        if (cmd.op === 'stop') { running = false; return { commits } }
      })
      reply({ ready: true })
    `, [src])
    children.push(writer)
    await writer.next()
    await writer.send({ op: 'start' })
    let groupRunning = true
    let groupCommits = 0
    const group = (async () => {
      while (groupRunning) {
        await Promise.all(Array.from({ length: 4 }, () => s.transaction((txn) => {
          const n = Number(txn.readString('counter')) + 1
          txn.writeMessage({ path: `m/${n}`, fields: { by: 'group', n: String(n) } })
          txn.write('counter', String(n))
        })))
        groupCommits += 4
      }
    })()
    const copies: Array<{ dir: string, compact: boolean, before: number, after: number }> = []
    for (let i = 0; i < 6; i++) {
      const compact = i % 2 === 1
      const dir = path.join(root, `copy${i}`)
      const before = Number(s.readString('counter'))
      await s.backup(dir, { compact })
      copies.push({ dir, compact, before, after: Number(s.readString('counter')) })
    }
    groupRunning = false
    await group
    const { commits } = await writer.send({ op: 'stop' })
    expect(commits).toBeGreaterThan(0)
    expect(groupCommits).toBeGreaterThan(0)
    // Writers made progress while backups ran (not only between them).
    expect(copies.some((c) => c.after > c.before)).toBe(true)
    for (const c of copies) {
      const copy = open(c.dir, { readOnly: true })
      try {
        const k = Number(copy.readString('counter'))
        expect(k).toBeGreaterThanOrEqual(c.before)
        expect(k).toBeLessThanOrEqual(c.after)
        const names = copy.list('m')
        expect(names.length, `copy ${c.dir}`).toBe(k)
        expect(new Set(names)).toEqual(new Set(Array.from({ length: k }, (_, i) => String(i + 1))))
        for (const n of [1, k]) if (k > 0) expect(copy.readString(`m/${n}/n`)).toBe(String(n))
        const last = copy.lastChangeSeq()
        const [record] = copy.changes({ after: last - 1 })
        expect(record.seq).toBe(last)
        expect(record.ops).toContainEqual({ op: 'write', path: 'counter', value: Buffer.from(String(k)) })
      } finally {
        copy.close()
      }
      const checked = deepCheck(c.dir)
      expect(checked.code, checked.stderr + JSON.stringify(checked.report)).toBe(0)
    }
  })
})
