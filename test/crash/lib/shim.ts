/**
 * Building and driving the LD_PRELOAD shim (test/crash/shim.c).
 */
import { spawnSync } from 'node:child_process'
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { CHILDREN, PACKAGE, ROOT, W, lib } from './harness'

const SOURCE = path.join(__dirname, '..', 'shim.c')

let built: string | null | undefined
let buildError = ''

/** Built by scripts/build-prebuild.sh (bullseye chroot) for machines without a C compiler. */
export const PREBUILT_SHIM = path.join(__dirname, '..', 'prebuilt', `shim-${process.platform}-${process.arch}.so`)
export function shimSourceHash (): string {
  return crypto.createHash('sha256').update(fs.readFileSync(SOURCE)).digest('hex').slice(0, 16)
}

/**
 * Compiles the shim once per source version into the temp dir (atomic
 * rename, so parallel test files share it). Without a C compiler (a fresh
 * machine has none) the committed prebuilt shim is used when it was built
 * from this shim.c. LMDB_TXN_CRASH_SHIM=prebuilt forces the prebuilt one.
 * null when neither is possible: the suites then skip with the reason, and
 * with CI set that is a failure.
 */
export function buildShim (): string | null {
  if (built !== undefined) return built
  const hash = shimSourceHash()
  const prebuiltOk = (): boolean => {
    try { return fs.readFileSync(`${PREBUILT_SHIM}.source`, 'utf8').trim() === hash } catch { return false }
  }
  if (process.env.LMDB_TXN_CRASH_SHIM === 'prebuilt') {
    if (!prebuiltOk()) throw new Error(`${PREBUILT_SHIM} is missing or not built from this shim.c: run scripts/build-prebuild.sh`)
    return (built = PREBUILT_SHIM)
  }
  const out = path.join(os.tmpdir(), `lmdb-txn-crash-shim-${hash}.so`)
  if (fs.existsSync(out)) return (built = out)
  const tmp = `${out}.${process.pid}.tmp`
  const r = spawnSync('cc', ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', '-o', tmp, SOURCE, '-ldl'], { encoding: 'utf8' })
  if (!r.error && r.status === 0) {
    fs.renameSync(tmp, out)
    return (built = out)
  }
  if (prebuiltOk()) return (built = PREBUILT_SHIM)
  buildError = `no C compiler (${r.error ? String(r.error) : r.stderr.trim()}) and ${path.relative(ROOT, PREBUILT_SHIM)} is missing or stale (scripts/build-prebuild.sh rebuilds it)`
  const ci = process.env.CI
  if (ci !== undefined && ci !== '' && ci !== 'false') throw new Error(`crash shim unavailable and CI is set: ${buildError}`)
  return (built = null)
}
export function shimBuildError (): string { return buildError }

export interface TraceEvent { n: number, kind: 'W' | 'M' | 'S' | 'Y', fd: number, off: number, len: number }

export interface StepsRun {
  status: number | null
  signal: string | null
  stderr: string
  results: any[]
  trace: TraceEvent[]
  fired: string[] // the shim's X lines: what it injected
  journal?: Buffer
}

export type ShimConfig = Partial<{
  MODE: 'count' | 'exit' | 'fail'
  AT: number
  WHEN: 'before' | 'after'
  KINDS: string
  ERRNO: 'EIO' | 'ENOSPC' | 'SHORT'
  STICKY: '1'
  FAIL_AFTER: '1'
  JOURNAL: string
}>

export const CRASH_EXIT = 86

/** Runs children/steps.cjs under the shim; returns its results and the shim's trace. */
export function runSteps (dir: string, durability: string, steps: unknown[], shim: string, cfg: ShimConfig): StepsRun {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lmdb-txn-steps-'))
  try {
    const plan = {
      dir, durability, steps,
      ctl: path.join(work, 'crash-shim.ctl'),
      results: path.join(work, 'results.jsonl')
    }
    const planFile = path.join(work, 'plan.json')
    fs.writeFileSync(planFile, JSON.stringify(plan))
    const trace = path.join(work, 'trace')
    const env: NodeJS.ProcessEnv = { ...process.env, LD_PRELOAD: shim, CRASH_SHIM_DIR: fs.realpathSync(dir), CRASH_SHIM_TRACE: trace }
    for (const [k, v] of Object.entries(cfg)) if (v !== undefined) env[`CRASH_SHIM_${k}`] = String(v)
    const r = spawnSync(process.execPath, [path.join(CHILDREN, 'steps.cjs'), PACKAGE, planFile], {
      cwd: ROOT, env, encoding: 'utf8', timeout: 60_000
    })
    const read = (f: string): string => fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : ''
    const results = read(plan.results).split('\n').filter(Boolean).map((l) => JSON.parse(l))
    const events: TraceEvent[] = []
    const fired: string[] = []
    for (const line of read(trace).split('\n').filter(Boolean)) {
      const [n, kind, ...rest] = line.split(' ')
      if (kind === 'X') fired.push(`${n} ${rest.join(' ')}`)
      else events.push({ n: Number(n), kind: kind as TraceEvent['kind'], fd: Number(rest[0]), off: Number(rest[1]), len: Number(rest[2]) })
    }
    return { status: r.status, signal: r.signal, stderr: r.stderr + (r.error ? String(r.error) : ''), results, trace: events, fired }
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
}

/** A store with messages 0..n-1 written in n commits (so its free list has pages to reuse). */
export function makeTemplate (dir: string, n: number): void {
  const store = lib.open(dir)
  try {
    W.APIS.writeMessage(store, Array.from({ length: n }, (_, i) => i))
  } finally {
    store.close()
  }
}

/** Copies a store's data file into a fresh directory (LMDB rebuilds lock.mdb). */
export function copyStore (from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true })
  fs.copyFileSync(path.join(from, 'data.mdb'), path.join(to, 'data.mdb'))
}

/** Seqs whose write step returned ok (acknowledged). */
export function ackedSeqs (results: any[]): number[] {
  return results.filter((r) => r.do === 'write' && r.ok).flatMap((r) => r.seqs)
}

/** Index (1-based n) of the meta-page write in a commit's trace: the last write into page 0 or 1. */
export function metaWriteEvent (trace: TraceEvent[], pageSize = 4096): TraceEvent | undefined {
  return [...trace].reverse().find((e) => (e.kind === 'W' || e.kind === 'M') && e.off < 2 * pageSize)
}
