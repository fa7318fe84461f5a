/**
 * Power-loss simulation (issue 5, part 4). A child commits a series of
 * messages through every write path with the shim journalling each write
 * and sync of data.mdb, and is cut off (`_exit`) before its N-th write or
 * sync, for every N of the run. From the journal, lib/powerloss.ts builds
 * disk images a power cut at that moment could leave — unsynced writes
 * dropped, kept, reordered and torn at 512-byte sectors — and each image is
 * verified in a separate process (a corrupt image must not take the test
 * runner down).
 *
 *   sync        every acknowledged commit survives every image; consistent.
 *   nometasync  consistent; at most the LAST acknowledged commit is lost.
 *   nosync      no promise for a power cut: the images are measured and
 *               reported; only the process-crash image is asserted.
 *
 *   LMDB_TXN_CRASH_POWER_IMAGES=<k>   random images per scenario (default 2)
 *   LMDB_TXN_CRASH_NOSYNC_IMAGES=<k>  the same for 'nosync' (default 0: only the
 *        'all' and 'none' images, because damaged nosync images can make LMDB
 *        — the library and LMDB's own tools — segfault or loop, which costs
 *        a watchdog timeout each; the long run measures them)
 */
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp'
import { CHILDREN, PACKAGE, ROOT, SEED, fileScopedDir, rng, saveFigures } from './lib/harness'
import { ackedSeqs, buildShim, copyStore, makeTemplate, runSteps, shimBuildError } from './lib/shim'
import { parseJournal, reconstruct, unsyncedCount, type Scenario } from './lib/powerloss'

const shim = buildShim()
const BASE = 10
const K = Number(process.env.LMDB_TXN_CRASH_POWER_IMAGES ?? 2)
const K_NOSYNC = Number(process.env.LMDB_TXN_CRASH_NOSYNC_IMAGES ?? 0)
// One commit per write path; 'multi' is three messages in one transaction.
const PROGRAM: Array<{ api: string, n: number }> = [
  { api: 'begin', n: 1 }, { api: 'transaction', n: 1 }, { api: 'writeMessage', n: 1 },
  { api: 'multi', n: 3 }, { api: 'batch', n: 1 }, { api: 'transactionSync', n: 1 }
]
const MAX_SEQ = BASE + PROGRAM.reduce((a, c) => a + c.n, 0)

function programSteps (): { steps: any[], commits: number[][] } {
  const steps: any[] = [{ do: 'arm' }]
  const commits: number[][] = []
  let seq = BASE
  for (const c of PROGRAM) {
    const seqs = Array.from({ length: c.n }, (_, i) => seq + i)
    seq += c.n
    commits.push(seqs)
    steps.push({ do: 'write', api: c.api, seqs })
  }
  steps.push({ do: 'disarm' })
  return { steps, commits }
}

interface Job { dir: string, maxSeq: number, acked: number[], scenario: Scenario, point: string, lastCommit: number[], tools?: boolean }
interface Verdict { problems: string[], problemCount: number, complete: number[], missingAcked: number[], partial: number[], crashed?: string, libraryOpened?: boolean, libraryError?: string }

/**
 * Runs children/verifier.cjs over the jobs. An image that kills it, or makes
 * it stall for STALL_MS in one stage, is recorded with the stage (the LMDB
 * tools or the library) and the verifier restarts past it.
 */
const STALL_MS = 20_000
async function verifyAll (jobs: Job[], work: string): Promise<Verdict[]> {
  const jobsFile = path.join(work, 'jobs.json')
  const out = path.join(work, 'verdicts.jsonl')
  const progress = path.join(work, 'progress')
  fs.writeFileSync(jobsFile, JSON.stringify(jobs))
  fs.writeFileSync(out, '')
  const verdicts: Verdict[] = []
  const lastStage = (): string => fs.readFileSync(progress, 'utf8').trim().split('\n').pop()?.split(' ')[1] ?? 'start'
  while (verdicts.length < jobs.length) {
    fs.writeFileSync(progress, '')
    const child = spawn(process.execPath, [path.join(CHILDREN, 'verifier.cjs'), PACKAGE, jobsFile, out, String(verdicts.length), progress], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (c) => { stderr += c })
    let stalled = false
    let seen = ''
    let since = Date.now()
    const watchdog = setInterval(() => {
      const now = fs.readFileSync(progress, 'utf8')
      if (now !== seen) { seen = now; since = Date.now() } else if (Date.now() - since > STALL_MS) { stalled = true; child.kill('SIGKILL') }
    }, 250)
    const [status, signal] = await new Promise<[number | null, string | null]>((resolve) => child.once('close', (c, sg) => resolve([c, sg])))
    clearInterval(watchdog)
    const lines = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
    verdicts.push(...lines.slice(verdicts.length))
    if (verdicts.length < jobs.length) {
      if (status === 0 && !stalled) throw new Error(`verifier stopped early: ${stderr}`)
      // The image at verdicts.length took the verifier down or made it hang.
      const stage = lastStage()
      const why = stalled ? `hang in ${stage}` : `crash in ${stage} (${signal ?? `status ${status}`}) ${stderr.slice(-200)}`
      const v: Verdict = { problems: [why], problemCount: 1, complete: [], missingAcked: [], partial: [], crashed: why }
      verdicts.push(v)
      fs.appendFileSync(out, JSON.stringify(v) + '\n')
    }
  }
  return verdicts
}

const isPrefix = (c: number[]): boolean => c.every((s, i) => s === i)

const figures: Record<string, any> = {}

describe.skipIf(!shim)(`power loss (seed ${SEED})${shim ? '' : ` (skipped: ${shimBuildError()})`}`, () => {
  let template = ''
  const getTemplate = (): string => {
    if (!template) { template = fileScopedDir('power-template'); makeTemplate(template, BASE) }
    return template
  }

  for (const mode of ['sync', 'nometasync', 'nosync'] as const) {
    it(`${mode}: power cut before every write and sync of ${PROGRAM.length} commits`, async () => {
      const rand = rng(SEED ^ mode.length)
      const { steps, commits } = programSteps()
      const base = fs.readFileSync(path.join(getTemplate(), 'data.mdb'))
      const work = tmpDir(`power-${mode}`)
      // The counting run (also the "power cut after the last call" point).
      const runs: Array<{ point: string, cfg: any }> = [{ point: 'end', cfg: { MODE: 'count' } }]
      const jobs: Job[] = []
      let calls = 0
      for (let idx = 0; idx < runs.length; idx++) {
        const { point, cfg } = runs[idx]
        const dir = path.join(work, `run-${idx}`)
        copyStore(getTemplate(), dir)
        const journal = path.join(work, `journal-${idx}`)
        const r = runSteps(dir, mode, steps, shim!, { ...cfg, JOURNAL: journal })
        if (idx === 0) {
          expect(r.status, r.stderr).toBe(0)
          calls = r.trace.length
          for (let n = 1; n <= calls; n++) runs.push({ point: `before ${n}${r.trace[n - 1].kind}`, cfg: { MODE: 'exit', AT: n } })
        } else {
          expect(r.status, `${point}: ${r.stderr}`).toBe(86)
        }
        const acked = [...Array.from({ length: BASE }, (_, i) => i), ...ackedSeqs(r.results)]
        const lastCommit = commits.filter((c) => c.every((s) => acked.includes(s))).pop() ?? []
        const j = parseJournal(fs.readFileSync(journal))
        // The journal must explain the real file exactly: replaying every write
        // onto the base image gives the data.mdb the process left behind.
        const all = reconstruct(base, j, 'all', rand)
        expect(all.equals(fs.readFileSync(path.join(dir, 'data.mdb'))), `${point}: journal replay ≠ data.mdb`).toBe(true)
        const k = mode === 'nosync' ? K_NOSYNC : K
        const scenarios: Scenario[] = unsyncedCount(j) === 0 ? ['all'] : ['all', 'none', ...Array(k).fill('subset'), ...Array(k).fill('prefix')]
        scenarios.forEach((scenario, s) => {
          const img = path.join(work, `img-${idx}-${s}`)
          fs.mkdirSync(img)
          fs.writeFileSync(path.join(img, 'data.mdb'), reconstruct(base, j, scenario, rand))
          jobs.push({ dir: img, maxSeq: MAX_SEQ, acked, scenario, point, lastCommit })
        })
        fs.rmSync(dir, { recursive: true, force: true })
        fs.rmSync(journal, { force: true })
      }

      const verdicts = await verifyAll(jobs, work)
      const tally = { images: jobs.length, crashPoints: runs.length, clean: 0, lostLastAcked: 0, lostOlder: 0, corrupt: 0, verifierCrashed: 0, corruptLibraryOpened: 0, corruptLibraryRejected: {} as Record<string, number>, crashes: {} as Record<string, number>, examples: [] as string[] }
      jobs.forEach((job, i) => {
        const v = verdicts[i]
        const onlyMissing = v.problemCount === 1 && v.missingAcked.length > 0 && v.problems[0].startsWith('acknowledged but missing')
        const lostOnlyLast = v.missingAcked.every((s) => job.lastCommit.includes(s))
        let kind: string
        if (v.crashed) kind = 'verifierCrashed'
        else if (v.problemCount === 0) kind = 'clean'
        else if (onlyMissing && lostOnlyLast) kind = 'lostLastAcked'
        else if (onlyMissing) kind = 'lostOlder'
        else kind = 'corrupt'
        ;(tally as any)[kind]++
        if (v.crashed) {
          const reason = v.crashed.replace(/\)[^]*$/, ')')
          tally.crashes[reason] = (tally.crashes[reason] ?? 0) + 1
        }
        if (kind === 'corrupt') {
          if (v.libraryOpened) tally.corruptLibraryOpened++
          else if (v.libraryError) tally.corruptLibraryRejected[v.libraryError] = (tally.corruptLibraryRejected[v.libraryError] ?? 0) + 1
        }
        // Up to two examples of each kind of outcome, with the library's own complaint if any.
        const libraryProblem = v.problems.find((p) => !/^(mdb_stat|raw walk|page accounting)/.test(p)) ?? ''
        if (kind !== 'clean' && tally.examples.filter((e) => e.includes(`: ${kind}: `)).length < 2) {
          tally.examples.push(`${job.point} / ${job.scenario}: ${kind}: ${v.problems[0].slice(0, 160)}` +
            (libraryProblem && libraryProblem !== v.problems[0] ? ` | ${libraryProblem.slice(0, 160)}` : ''))
        }
        const where = `${mode}, power cut ${job.point}, image '${job.scenario}'`
        if (job.scenario === 'all' || mode !== 'nosync') {
          expect(v.crashed, where).toBeUndefined()
          expect(isPrefix(v.complete), `${where}: complete = ${v.complete}`).toBe(true)
          expect(v.partial, where).toEqual([])
        }
        if (job.scenario === 'all' || mode === 'sync') {
          expect(v.problems, where).toEqual([])
        } else if (mode === 'nometasync') {
          // Consistent, and only the last acknowledged commit may be gone.
          expect(onlyMissing || v.problemCount === 0, `${where}: ${v.problems.join('; ')}`).toBe(true)
          expect(lostOnlyLast, `${where}: lost ${v.missingAcked}, last acked commit ${job.lastCommit}`).toBe(true)
        }
      })
      figures[mode] = { calls, ...tally }
    }, 170_000 + (mode === 'nosync' ? K_NOSYNC * 120_000 : 0))
  }

  // The first open() of a directory creates the store: LMDB writes both meta
  // pages (one 8 KiB pwrite), fdatasyncs, and the library's first commit adds
  // its databases. Cut the power (or the process) before each of those calls.
  it('store creation cut off: the next open() works, or fails with a typed error', async () => {
    const rand = rng(SEED ^ 0x5eed)
    const steps = [{ do: 'write', api: 'writeMessage', seqs: [0] }]
    const work = tmpDir('power-create')
    const runs: Array<{ point: string, cfg: any }> = [{ point: 'end', cfg: { MODE: 'count' } }]
    const jobs: Job[] = []
    for (let idx = 0; idx < runs.length; idx++) {
      const { point, cfg } = runs[idx]
      const dir = path.join(work, `run-${idx}`)
      fs.mkdirSync(dir)
      const journal = path.join(work, `journal-${idx}`)
      const r = runSteps(dir, 'sync', steps, shim!, { ...cfg, JOURNAL: journal, ARMED: '1' })
      if (idx === 0) {
        expect(r.status, r.stderr).toBe(0)
        for (let n = 1; n <= r.trace.length; n++) runs.push({ point: `before ${n}${r.trace[n - 1].kind}`, cfg: { MODE: 'exit', AT: n } })
      } else {
        expect(r.status, `${point}: ${r.stderr}`).toBe(86)
      }
      const acked = ackedSeqs(r.results)
      const j = parseJournal(fs.readFileSync(journal))
      const real = path.join(dir, 'data.mdb')
      const all = reconstruct(Buffer.alloc(0), j, 'all', rand)
      expect(all.equals(fs.existsSync(real) ? fs.readFileSync(real) : Buffer.alloc(0)), `${point}: journal replay ≠ data.mdb`).toBe(true)
      const scenarios: Scenario[] = unsyncedCount(j) === 0 ? ['all'] : ['all', 'none', ...Array(K + 2).fill('subset'), ...Array(K + 2).fill('prefix')]
      scenarios.forEach((scenario, s) => {
        const img = path.join(work, `img-${idx}-${s}`)
        fs.mkdirSync(img)
        if (fs.existsSync(real)) fs.writeFileSync(path.join(img, 'data.mdb'), reconstruct(Buffer.alloc(0), j, scenario, rand))
        // LMDB's tools cannot open a file the library would initialise: library view only.
        jobs.push({ dir: img, maxSeq: 1, acked, scenario, point, lastCommit: acked, tools: false })
      })
    }
    const verdicts = await verifyAll(jobs, work)
    const outcome: Record<string, number> = {}
    const examples: string[] = []
    jobs.forEach((job, i) => {
      const v = verdicts[i]
      const where = `creation, ${job.point}, image '${job.scenario}'`
      expect(v.crashed, where).toBeUndefined()
      const kind = v.problemCount === 0 ? (v.complete.length ? 'opens, message there' : 'opens, empty') : v.libraryError ? `open() throws ${v.libraryError}` : 'other'
      outcome[kind] = (outcome[kind] ?? 0) + 1
      if (kind.startsWith('open() throws') && examples.length < 2) examples.push(`${job.point} / ${job.scenario}: ${v.problems[0].slice(0, 200)}`)
      // Never a damaged store that opens: either it is good, or open() refuses it with a typed error.
      expect(v.problemCount === 0 || (v.libraryError !== undefined && v.libraryOpened !== true), `${where}: ${v.problems.join('; ')}`).toBe(true)
      // A process crash (image 'all') always leaves a store that opens.
      if (job.scenario === 'all') expect(v.problems, where).toEqual([])
    })
    figures.creation = { crashPoints: runs.length, images: jobs.length, outcome, examples }
  })

  afterAll(() => {
    const file = saveFigures('power-loss', figures)
    console.log(`[crash] power loss → ${file}\n` + Object.entries(figures).filter(([m]) => m !== 'creation').map(([m, f]) =>
      `  ${m}: ${f.crashPoints} power cuts (${f.calls} calls), ${f.images} images: ${f.clean} clean, ` +
      `${f.lostLastAcked} lost the last acked commit, ${f.lostOlder} lost older acked commits, ${f.corrupt} corrupt/unopenable, ` +
      `${f.verifierCrashed} crashed or hung the verifier ${JSON.stringify(f.crashes)}, ` +
      `damaged images the library opened: ${f.corruptLibraryOpened}, rejected: ${JSON.stringify(f.corruptLibraryRejected)}` + (f.examples.length ? `\n    e.g. ${f.examples.join('\n    e.g. ')}` : '')).join('\n') +
      (figures.creation ? `\n  store creation: ${figures.creation.crashPoints} cuts, ${figures.creation.images} images: ${JSON.stringify(figures.creation.outcome)}` +
        figures.creation.examples.map((e: string) => `\n    e.g. ${e}`).join('') : ''))
  })
})
