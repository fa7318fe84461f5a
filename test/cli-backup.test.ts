/**
 * `lmdb-txn backup` (issue 17) and the one parser of integer CLI options,
 * run as a user runs them (a child `node bin/lmdb-txn.js …`).
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { spawn, spawnSync } from 'node:child_process'
import { open } from './helpers/lib'
import { tmpDir } from './helpers/tmp'
import { Child, ROOT } from './helpers/child'
import { intOption, UsageError } from '../dist/cli/common.js'
import { formatBackupProgress, formatBackupSummary } from '../dist/cli/backup.js'

const BIN = path.join(ROOT, 'bin', 'lmdb-txn.js')
const hasScript = spawnSync('script', ['--version']).status === 0
const children: Child[] = []
afterEach(async () => { for (const c of children.splice(0)) await c.close() })

function cli (args: string[]): { code: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, LMDB_TXN_DEBUG: '' } })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

function sample (dir: string): void {
  const s = open(dir, { changeLog: true })
  s.transactionSync((txn) => { for (let i = 0; i < 200; i++) txn.writeMessage({ path: `msg/${i}`, fields: { body: `hello ${i}` } }) })
  s.close()
}

describe('lmdb-txn backup', () => {
  for (const compact of [false, true]) {
    it(`${compact ? '--compact' : 'plain'}: a one-line summary off a terminal, no progress; the copy checks`, () => {
      const root = tmpDir('cli-backup')
      sample(path.join(root, 'src'))
      const dest = path.join(root, 'out', 'copy')
      const r = cli(['backup', path.join(root, 'src'), dest, ...(compact ? ['--compact'] : [])])
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr).toBe('')
      const size = fs.statSync(path.join(dest, 'data.mdb')).size
      expect(r.stdout).toMatch(new RegExp(`^backed up ${path.join(root, 'src')} to ${path.join(dest, 'data.mdb')}${compact ? ' \\(compact\\)' : ''}: [\\d.]+ KiB in [\\d.]+ s, .+/s\\n$`))
      expect(fs.readdirSync(dest)).toEqual(['data.mdb'])
      const check = cli(['check', dest])
      expect(check.code, check.stdout + check.stderr).toBe(0)
      const json = cli(['backup', path.join(root, 'src'), path.join(root, 'j'), '--json'])
      const result = JSON.parse(json.stdout)
      expect(result).toMatchObject({ path: path.join(root, 'j', 'data.mdb'), bytes: fs.statSync(path.join(root, 'j', 'data.mdb')).size, compact: false })
      // The source was opened read-only: nothing was written to it.
      const s = open(path.join(root, 'src'), { readOnly: true })
      const c = open(dest, { readOnly: true })
      expect(c.stat().storeId).toBe(s.stat().storeId)
      expect(c.readString('msg/199/body')).toBe('hello 199')
      s.close()
      c.close()
    })
  }

  it('refusals are one-line errors with exit 1; usage mistakes exit 2', () => {
    const root = tmpDir('cli-backup')
    sample(path.join(root, 'src'))
    sample(path.join(root, 'other'))
    const exists = cli(['backup', path.join(root, 'src'), path.join(root, 'other')])
    expect(exists.code).toBe(1)
    expect(exists.stderr).toMatch(/^lmdb-txn: cannot back up into .*other: .* already holds a data\.mdb[^\n]*\n$/)
    const self = cli(['backup', path.join(root, 'src'), path.join(root, 'src')])
    expect(self.code).toBe(1)
    expect(self.stderr).toMatch(/store's own directory/)
    const missing = cli(['backup', path.join(root, 'nope'), path.join(root, 'x')])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/^lmdb-txn: no such directory/)
    expect(fs.existsSync(path.join(root, 'x'))).toBe(false)
    expect(cli(['backup', path.join(root, 'src')]).code).toBe(2)
    expect(cli(['backup', path.join(root, 'src'), path.join(root, 'y'), '--bogus']).code).toBe(2)
  })

  it('formats the progress and summary lines', () => {
    expect(formatBackupProgress(0, 1 << 20, 0)).toBe('backup   0% 0 B of ~1.0 MiB, 0.0 s, -')
    expect(formatBackupProgress(512 << 20, 1 << 30, 2000)).toBe('backup  50% 512 MiB of ~1.0 GiB, 2.0 s, 256 MiB/s')
    expect(formatBackupProgress(3 << 20, 2 << 20, 1000)).toMatch(/^backup 100% /) // a plain copy may exceed the used bytes seen at start
    expect(formatBackupSummary('a', 'b/data.mdb', 10 << 20, true, 500)).toBe('backed up a to b/data.mdb (compact): 10 MiB in 0.50 s, 20 MiB/s')
  })

  it.runIf(hasScript)('on a terminal: a progress line on stderr while it waits and copies, erased before the summary', async () => {
    const root = tmpDir('cli-backup')
    const src = path.join(root, 'src')
    sample(src)
    // Another process holds the writer lock: the plain copy waits ~1 s with its partial file open.
    const holder = new Child(`
      const { open } = require('.')
      const store = open(process.argv[1])
      let txn
      onCommand((cmd) => {
        if (cmd.op === 'begin') { txn = store.begin(); return { ok: true } }
        if (cmd.op === 'commit') { txn.commit(); return { ok: true } }
      })
      reply({ ready: true })
    `, [src])
    children.push(holder)
    await holder.next()
    await holder.send({ op: 'begin' })
    const dest = path.join(root, 'dest')
    const proc = spawn('script', ['-qec', `"${process.execPath}" "${BIN}" backup "${src}" "${dest}"`, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    proc.stdout.setEncoding('utf8').on('data', (c: string) => { out += c })
    const exited = new Promise<number | null>((resolve) => proc.once('exit', resolve))
    for (let i = 0; i < 200 && !out.includes('backup '); i++) await new Promise((resolve) => setTimeout(resolve, 20))
    await holder.send({ op: 'commit' })
    expect(await exited).toBe(0)
    expect(out).toMatch(/\r\x1b\[2Kbackup +\d+% [\d.]+ (B|KiB) of ~[\d.]+ KiB, [\d.]+ s, /)
    expect(out).toMatch(/\r\x1b\[2K(\r\n|\n)?backed up /)
    expect(fs.existsSync(path.join(dest, 'data.mdb'))).toBe(true)
    const quiet = spawnSync('script', ['-qec', `"${process.execPath}" "${BIN}" backup --no-progress "${src}" "${path.join(root, 'q')}"`, '/dev/null'], { encoding: 'utf8', timeout: 60_000 })
    expect(quiet.status).toBe(0)
    expect(quiet.stdout).not.toMatch(/\x1b/)
  })
})

describe('integer CLI options: one parser, one wording', () => {
  it('intOption accepts digits within the range and refuses everything else', () => {
    expect(intOption(undefined, 'n')).toBeUndefined()
    expect(intOption('0', 'n')).toBe(0)
    expect(intOption('0042', 'n')).toBe(42)
    expect(intOption('65535', 'port', 0, 65535)).toBe(65535)
    const bad: Array<[string | boolean, number, number, string]> = [
      ['-1', 0, Number.MAX_SAFE_INTEGER, '--n must be a non-negative integer, got "-1"'],
      ['1e3', 0, Number.MAX_SAFE_INTEGER, '--n must be a non-negative integer, got "1e3"'],
      ['1.5', 0, Number.MAX_SAFE_INTEGER, '--n must be a non-negative integer, got "1.5"'],
      [' 1', 0, Number.MAX_SAFE_INTEGER, '--n must be a non-negative integer, got " 1"'],
      ['', 0, Number.MAX_SAFE_INTEGER, '--n must be a non-negative integer, got ""'],
      ['0x10', 0, Number.MAX_SAFE_INTEGER, '--n must be a non-negative integer, got "0x10"'],
      ['9007199254740993', 0, Number.MAX_SAFE_INTEGER, '--n must be a non-negative integer, got "9007199254740993"'],
      ['0', 1, Number.MAX_SAFE_INTEGER, '--n must be a positive integer, got "0"'],
      ['65536', 0, 65535, '--n must be an integer 0..65535, got "65536"'],
      [true, 0, Number.MAX_SAFE_INTEGER, '--n must be a non-negative integer, got no value']
    ]
    for (const [value, min, max, message] of bad) {
      let err: unknown
      try { intOption(value, 'n', min, max) } catch (e) { err = e }
      expect(err, String(value)).toBeInstanceOf(UsageError)
      expect((err as Error).message).toBe(message)
    }
  })

  it('every command with an integer option uses it (exit 2, the same wording)', () => {
    const root = tmpDir('cli-int')
    sample(path.join(root, 's'))
    const s = path.join(root, 's')
    const cases: Array<[string[], string]> = [
      [['ls', s, '--limit=-1'], '--limit must be a non-negative integer, got "-1"'],
      [['changes', s, '--after', '1e3'], '--after must be a non-negative integer, got "1e3"'],
      [['changes', s, '--limit', 'x'], '--limit must be a non-negative integer, got "x"'],
      [['tree', s, '--depth', '0'], '--depth must be a positive integer, got "0"'],
      [['serve', path.join(root, 'r'), '--port', '70000'], '--port must be an integer 0..65535, got "70000"'],
      [['serve', path.join(root, 'r'), '--port', '0', '--max-message-ops', '0'], '--max-message-ops must be an integer 1..2147483648, got "0"'],
      [['replicate', path.join(root, 'r'), '--nats', 'nats://127.0.0.1:1', '--stream', 'x', '--status-every', '1.5'], '--status-every must be a non-negative integer, got "1.5"']
    ]
    for (const [args, message] of cases) {
      const r = cli(args)
      expect(r.code, args.join(' ') + r.stderr).toBe(2)
      expect(r.stderr).toBe(`lmdb-txn: ${message}\n`)
    }
    expect(fs.existsSync(path.join(root, 'r'))).toBe(false) // refused before serve creates its directory
    expect(cli(['ls', s, 'msg', '--limit', '2']).stdout).toBe('0\n1\n')
  })
})
