/**
 * Deterministic crash points (issue 5, part 2). The LD_PRELOAD shim counts
 * every write/pwrite/writev/fdatasync/fsync/msync on data.mdb issued by one
 * commit; a counting run learns the commit's calls, then one run per call
 * `_exit`s just before it (and one just after the last), so the crash lands
 * before, between and after every write and sync of LMDB's commit.
 *
 * After each crash: the store is consistent (verify.cjs), the earlier
 * commits are whole, and the crashed commit is present exactly when the
 * crash came after its meta-page write — never half. The counting run also
 * checks what each durability mode does on disk.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp'
import { fileScopedDir, isPrefix, saveFigures, verify } from './lib/harness'
import {
  CRASH_EXIT, ackedSeqs, buildShim, copyStore, makeTemplate, metaWriteEvent, runSteps, shimBuildError, type TraceEvent
} from './lib/shim'

const shim = buildShim()
const BASE = 60 // messages in the template store
const APIS = ['begin', 'transactionSync', 'writeMessage', 'batch', 'transaction', 'multi'] as const
const MODES = ['sync', 'nometasync', 'nosync'] as const
const seqsFor = (api: string): number[] => api === 'multi' ? Array.from({ length: 30 }, (_, i) => BASE + i) : [BASE]
const baseSeqs = Array.from({ length: BASE }, (_, i) => i)

const figures = { crashPoints: 0, byCase: {} as Record<string, string> }

/** What a commit must do on disk in each mode, from its trace. */
function checkDurabilityShape (mode: string, trace: TraceEvent[]): void {
  const meta = metaWriteEvent(trace)
  expect(meta, 'the commit wrote a meta page').toBeDefined()
  const dataWrites = trace.filter((e) => (e.kind === 'W' || e.kind === 'M') && e.n !== meta!.n && e.off >= 8192)
  expect(dataWrites.length, 'the commit wrote data pages').toBeGreaterThan(0)
  const lastData = Math.max(...dataWrites.map((e) => e.n))
  const syncs = trace.filter((e) => e.kind === 'S' || e.kind === 'Y')
  if (mode === 'nosync') {
    expect(syncs, "'nosync' commits issue no fdatasync/fsync/msync").toEqual([])
    return
  }
  // Data pages reach the disk before the meta page that points at them.
  expect(syncs.some((s) => s.n > lastData && s.n < meta!.n), `${mode}: a sync between the data pages and the meta page`).toBe(true)
  if (mode === 'sync') {
    // The meta page itself is durable before the call returns: O_DSYNC write, or a sync after it.
    const metaDurable = meta!.kind === 'M' || syncs.some((s) => s.n > meta!.n)
    expect(metaDurable, "'sync': the meta-page write is synced before the commit returns").toBe(true)
  }
}

describe.skipIf(!shim)(`crash points: _exit at every write and sync of a commit${shim ? '' : ` (skipped: no C compiler: ${shimBuildError()})`}`, () => {
  let template = ''
  const getTemplate = (): string => {
    if (!template) { template = fileScopedDir('crash-points-template'); makeTemplate(template, BASE) }
    return template
  }

  for (const mode of MODES) {
    for (const api of APIS) {
      it(`${mode} / ${api}`, () => {
        const seqs = seqsFor(api)
        const steps = [{ do: 'arm' }, { do: 'write', api, seqs }, { do: 'disarm' }]
        // 1. the counting run: which calls does this commit make?
        const countDir = tmpDir('count')
        copyStore(getTemplate(), countDir)
        const counted = runSteps(countDir, mode, steps, shim!, { MODE: 'count' })
        expect(counted.status, counted.stderr).toBe(0)
        expect(counted.results[1]).toMatchObject({ do: 'write', ok: true })
        const trace = counted.trace
        checkDurabilityShape(mode, trace)
        const meta = metaWriteEvent(trace)!
        const T = trace.length

        // 2. a crash before each call, and one right after the last
        const points = [...trace.map((e) => ({ at: e.n, when: 'before' as const })), { at: T, when: 'after' as const }]
        const outcome: string[] = []
        for (const p of points) {
          const dir = tmpDir('crash')
          copyStore(getTemplate(), dir)
          const r = runSteps(dir, mode, steps, shim!, { MODE: 'exit', AT: p.at, WHEN: p.when })
          expect(r.status, `the shim fired at ${p.when} ${p.at}: ${r.stderr}`).toBe(CRASH_EXIT)
          const acked = ackedSeqs(r.results)
          // The call never returns before its last write/sync was issued.
          expect(acked, 'the commit returned before all of its I/O').toEqual([])
          const report = verify(dir, { maxSeq: BASE + 30, acked: baseSeqs })
          expect(report.problems, `crash ${p.when} call ${p.at}`).toEqual([])
          expect(isPrefix(report.complete)).toBe(true)
          const present = report.complete.length > BASE
          const afterMeta = p.when === 'after' ? p.at >= meta.n : p.at > meta.n
          expect(present, `crash ${p.when} call ${p.at} (meta write is call ${meta.n}): commit present = ${present}`).toBe(afterMeta)
          if (present) expect(report.complete.length).toBe(BASE + seqs.length)
          outcome.push(`${p.when === 'before' ? 'b' : 'a'}${p.at}${trace[p.at - 1].kind}:${present ? 'new' : 'old'}`)
          figures.crashPoints++
        }
        figures.byCase[`${mode}/${api}`] = `${T} calls [${trace.map((e) => e.kind).join('')}] → ${outcome.join(' ')}`
      })
    }
  }

  afterAll(() => {
    const file = saveFigures('crash-points', figures)
    console.log(`[crash] crash points: ${figures.crashPoints} deterministic crashes, all consistent → ${file}\n` +
      Object.entries(figures.byCase).map(([k, v]) => `  ${k}: ${v}`).join('\n'))
  })
})
