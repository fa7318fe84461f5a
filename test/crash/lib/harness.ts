/**
 * Shared pieces of the crash suite's test files: seeded randomness, child
 * processes with IPC, the verification entry point, and the figures file.
 */
import { afterAll } from 'vitest'
import { fork, type ChildProcess } from 'node:child_process'
import { createRequire } from 'node:module'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as lib from '../../helpers/lib'
import { ROOT } from '../../helpers/child'

const require = createRequire(__filename)
/**
 * The package children load (and this process verifies with). Default: the
 * working tree. LMDB_TXN_CRASH_PACKAGE=<dir> (see freeze-package.sh) points at
 * a frozen copy, so a rebuild of dist/ by someone else during a long run
 * cannot break it.
 */
export const PACKAGE = process.env.LMDB_TXN_CRASH_PACKAGE ? path.resolve(process.env.LMDB_TXN_CRASH_PACKAGE) : ROOT
const libOfRun: typeof lib = PACKAGE === ROOT ? lib : require(PACKAGE)
export { ROOT, libOfRun as lib }
export const W = require('./workload.cjs')
export const V = require('./verify.cjs')
export const CHILDREN = path.join(__dirname, '..', 'children')

/** Seeded PRNG (mulberry32): a failing run can be replayed with LMDB_TXN_CRASH_SEED. */
export function rng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
export const SEED = Number(process.env.LMDB_TXN_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31))

export interface Exit { code: number | null, signal: NodeJS.Signals | null, stderr: string }

/** A forked child speaking IPC; `messages` collects everything it sent. */
export class IpcChild {
  readonly proc: ChildProcess
  readonly messages: any[] = []
  stderr = ''
  readonly exited: Promise<Exit>
  #listeners: Array<(m: any) => void> = []

  constructor (script: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
    this.proc = fork(path.join(CHILDREN, script), args, {
      cwd: ROOT, execArgv: [], env, stdio: ['ignore', 'ignore', 'pipe', 'ipc']
    })
    this.proc.stderr!.setEncoding('utf8')
    this.proc.stderr!.on('data', (c: string) => { this.stderr += c })
    this.proc.on('message', (m) => {
      this.messages.push(m)
      for (const l of this.#listeners) l(m)
    })
    // Resolves after the exit AND after every IPC message sent before it was read.
    this.exited = new Promise((resolve) => {
      let status: { code: number | null, signal: NodeJS.Signals | null } | undefined
      let closed = false
      const done = (): void => { if (status && closed) resolve({ ...status, stderr: this.stderr }) }
      this.proc.on('exit', (code, signal) => { status = { code, signal }; done() })
      this.proc.on('close', () => { closed = true; done() })
    })
  }

  onMessage (fn: (m: any) => void): void { this.#listeners.push(fn) }

  kill (): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL')
  }
}

/** Where each test file leaves its latest figures (docs/crash-safety.md cites them). */
export function saveFigures (name: string, figures: unknown): string {
  const dir = path.join(os.tmpdir(), 'lmdb-txn-crash-figures')
  fs.mkdirSync(dir, { recursive: true })
  const file = path.join(dir, `${name}.json`)
  fs.writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), seed: SEED, ...(figures as object) }, null, 2))
  return file
}

/** Verifies `dir` in this process with the library's open(). */
export function verify (dir: string, opts: { maxSeq: number, acked?: Iterable<number>, allowKey?: (k: string) => boolean }): any {
  // LMDB's view in this process: nothing here has `dir` open (the writer was a
  // child, and verifyStore opens the library only after the raw view).
  return V.verifyStore(dir, { open: lib.open, rawInProcess: PACKAGE, ...opts, acked: [...(opts.acked ?? [])] })
}

/** Complete messages must be exactly 0..n-1: a later commit never survives an earlier loss. */
export function isPrefix (complete: number[]): boolean {
  return complete.every((s, i) => s === i)
}

/** A temp directory that lives until the end of the file (tmpDir() is per test). */
export function fileScopedDir (label: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `lmdb-txn-${label}-`))
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}
