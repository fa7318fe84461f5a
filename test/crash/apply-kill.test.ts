/**
 * Kill points inside group commit's apply step (issue 16). The writer thread
 * applies a batch's op buffer to the LMDB txn before committing it; with
 * LMDB_TXN_CRASH_APPLY_AT=N the process ends (status 86) just before the
 * N-th op it applies, so the crash lands between two mdb_put calls of a
 * batch, in the first batch, mid-batch, after a map growth re-applied a
 * buffer. Afterwards: every acknowledged message complete, every message
 * complete or wholly absent, the complete ones a prefix 0..n-1.
 */
import { describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp'
import { IpcChild, PACKAGE, SEED, isPrefix, rng, verify } from './lib/harness'

const MESSAGES = 40
const CRASHED = 86

describe(`crash inside the group-commit apply step (seed ${SEED})`, () => {
  const rand = rng(SEED)
  const fixed = [1, 2, 3, 7, 14, 15, 16, 29, 57, 100, 151, 222, 333, 444]
  const points = [...fixed, ...Array.from({ length: 6 }, () => 1 + Math.floor(rand() * 500))]

  it(`${points.length} crash points: no acknowledged message lost, none partial`, async () => {
    const seen: string[] = []
    for (const [i, at] of points.entries()) {
      const dir = tmpDir('apply-kill')
      const durability = (['sync', 'nometasync', 'nosync'] as const)[i % 3]
      const child = new IpcChild('writer.cjs', [PACKAGE, dir, 'transaction', durability, '0', String(MESSAGES)], {
        ...process.env, LMDB_TXN_CRASH_APPLY_AT: String(at)
      })
      const acked: number[] = []
      child.onMessage((m) => {
        if (typeof m.ack === 'number') acked.push(m.ack)
        if (m.done) child.kill()
      })
      const exit = await child.exited
      // Fewer ops than `at` in the whole run: it finished and was killed; otherwise the hook fired.
      expect([CRASHED, null], `writer: ${exit.stderr}`).toContain(exit.code)
      const report = verify(dir, { maxSeq: MESSAGES, acked })
      expect(report.problems, `crash before op ${at} (${durability})`).toEqual([])
      expect(isPrefix(report.complete)).toBe(true)
      expect(report.complete.length).toBeGreaterThanOrEqual(acked.length)
      seen.push(`${at}:${exit.code === CRASHED ? `crashed, ${acked.length} acked, ${report.complete.length} present` : 'finished'}`)
    }
    // the hook really fired inside the apply step for the fixed points
    expect(seen.filter((s) => s.includes('crashed')).length).toBeGreaterThanOrEqual(fixed.length - 2)
    console.log(`[crash] apply-step crash points: ${seen.join(' ')}`)
  }, 120_000)
})
