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
 */
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp'
import { CHILDREN, ROOT, SEED, fileScopedDir, rng, saveFigures } from './lib/harness'
import { ackedSeqs, buildShim, copyStore, makeTemplate, runSteps, shimBuildError } from './lib/shim'
import { parseJournal, reconstruct, unsyncedCount, type Scenario } from './lib/powerloss'

const shim = buildShim()
const BASE = 10
const K = Number(process.env.LMDB_TXN_CRASH_POWER_IMAGES ?? 2)
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

interface Job { dir: string, maxSeq: number, acked: number[], scenario: Scenario, point: string, lastCommit: number[] }
interface Verdict { problems: string[], problemCount: number, complete: number[], missingAcked: number[], partial: number[], crashed?: string }

/** Runs children/verifier.cjs over the jobs; restarts past an image that kills it. */
function verifyAll (jobs: Job[], work: string): Verdict[] {
  const jobsFile = path.join(work, 'jobs.json')
  const out = path.join(work, 'verdicts.jsonl')
  fs.writeFileSync(jobsFile, JSON.stringify(jobs))
  fs.writeFileSync(out, '')
  const verdicts: Verdict[] = []
  while (verdicts.length < jobs.length) {
    const first = verdicts.length
    const r = spawnSync(process.execPath, [path.join(CHILDREN, 'verifier.cjs'), ROOT, jobsFile, out, String(first)], {
      cwd: ROOT, encoding: 'utf8', timeout: 120_000
    })
    const lines = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
    verdicts.push(...lines.slice(verdicts.length))
    if (verdicts.length < jobs.length && (r.status !== 0 || r.signal)) {
      // The image at verdicts.length took the verifier down (or hung).
      const why = r.error ? String(r.error) : `verifier died: status ${r.status} signal ${r.signal}: ${r.stderr.slice(-300)}`
      verdicts.push({ problems: [why], problemCount: 1, complete: [], missingAcked: [], partial: [], crashed: why })
      fs.appendFileSync(out, JSON.stringify(verdicts[verdicts.length - 1]) + '\n')
    } else if (verdicts.length < jobs.length) {
      throw new Error(`verifier stopped early: ${r.stderr}`)
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
    it(`${mode}: power cut before every write and sync of ${PROGRAM.length} commits`, () => {
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
        const scenarios: Scenario[] = unsyncedCount(j) === 0 ? ['all'] : ['all', 'none', ...Array(K).fill('subset'), ...Array(K).fill('prefix')]
        scenarios.forEach((scenario, s) => {
          const img = path.join(work, `img-${idx}-${s}`)
          fs.mkdirSync(img)
          fs.writeFileSync(path.join(img, 'data.mdb'), reconstruct(base, j, scenario, rand))
          jobs.push({ dir: img, maxSeq: MAX_SEQ, acked, scenario, point, lastCommit })
        })
        fs.rmSync(dir, { recursive: true, force: true })
        fs.rmSync(journal, { force: true })
      }

      const verdicts = verifyAll(jobs, work)
      const tally = { images: jobs.length, crashPoints: runs.length, clean: 0, lostLastAcked: 0, lostOlder: 0, corrupt: 0, verifierCrashed: 0, examples: [] as string[] }
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
        if (kind !== 'clean' && tally.examples.length < 6) tally.examples.push(`${job.point} / ${job.scenario}: ${kind}: ${v.problems[0]}`)
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
    }, 170_000)
  }

  afterAll(() => {
    const file = saveFigures('power-loss', figures)
    console.log(`[crash] power loss → ${file}\n` + Object.entries(figures).map(([m, f]) =>
      `  ${m}: ${f.crashPoints} power cuts (${f.calls} calls), ${f.images} images: ${f.clean} clean, ` +
      `${f.lostLastAcked} lost the last acked commit, ${f.lostOlder} lost older acked commits, ${f.corrupt} corrupt/unopenable, ` +
      `${f.verifierCrashed} crashed the verifier` + (f.examples.length ? `\n    e.g. ${f.examples.join('\n    e.g. ')}` : '')).join('\n'))
  })
})
