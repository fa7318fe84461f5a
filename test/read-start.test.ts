/**
 * LMDB 0.9.24's read-start race (native/read_start.cc): a reader preempted
 * between reading the last txnid and copying that txn's meta page can read a
 * later, maybe torn, snapshot under an older id, and its next read can go
 * back. The race lives inside LMDB, so it is shown on a plain LMDB program
 * (test/native/read-start-stress.cc) built from native/read_start.cc, the
 * same code the addon calls on every read start: started by LMDB alone, reads
 * that are not the snapshot their id names appear within seconds; settled,
 * none do over at least three times as long.
 */
import { spawnSync } from 'node:child_process'
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { tmpDir } from './helpers/tmp'

const ROOT = path.join(__dirname, '..')
const SOURCE = path.join(__dirname, 'native', 'read-start-stress.cc')
const SETTLE = path.join(ROOT, 'native', 'read_start.cc')

interface StressResult { reads: number, anomalies: number, back: number, commits: number, seconds: number }

/** Built by scripts/build-prebuild.sh (bullseye chroot, LMDB linked in) for machines without g++ or liblmdb-dev. */
const PREBUILT = path.join(__dirname, 'native', 'prebuilt', `read-start-stress-${process.platform}-${process.arch}`)
function sourceHash (): string {
  const h = crypto.createHash('sha256')
  for (const f of [SOURCE, path.join(ROOT, 'native', 'read_start.h'), SETTLE]) h.update(fs.readFileSync(f))
  return h.digest('hex').slice(0, 16)
}

/**
 * The stress program: built here, else the prebuilt one if it is of these
 * sources (LMDB_TXN_READ_START_STRESS=prebuilt forces it); null with the reason.
 */
function build (): { bin: string | null, reason: string } {
  if (process.env.LMDB_TXN_READ_START_STRESS === 'prebuilt') return { bin: PREBUILT, reason: '' }
  const bin = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lmdb-txn-read-start-')), 'read-start-stress')
  const r = spawnSync('g++', ['-O2', '-std=c++17', '-pthread', '-Wall', '-Wextra', `-I${path.join(ROOT, 'native')}`,
    '-o', bin, SOURCE, SETTLE, '-llmdb'], { encoding: 'utf8' })
  if (!r.error && r.status === 0) return { bin, reason: '' }
  const reason = r.error ? String(r.error) : r.stderr.trim().split('\n').slice(-3).join(' ')
  let prebuiltOk = false
  try { prebuiltOk = fs.readFileSync(`${PREBUILT}.source`, 'utf8').trim() === sourceHash() } catch {}
  if (prebuiltOk) return { bin: PREBUILT, reason: '' }
  return { bin: null, reason: `${reason}; ${path.relative(ROOT, PREBUILT)} is missing or stale (scripts/build-prebuild.sh rebuilds it)` }
}

function stress (bin: string, mode: 'raw' | 'settled', seconds: number, stopAfter: number): StressResult {
  const readers = Math.max(3, os.availableParallelism() + 1) // more threads than cores: readers get preempted
  const r = spawnSync(bin, [tmpDir('read-start'), mode, String(seconds), String(readers), String(stopAfter)],
    { encoding: 'utf8', timeout: (seconds + 20) * 1000, killSignal: 'SIGKILL' })
  if (r.error || r.status !== 0) throw new Error(`read-start-stress ${mode}: ${r.error ? String(r.error) : `status ${r.status}: ${r.stderr}`}`)
  return JSON.parse(r.stdout.trim()) as StressResult
}

const built = build()
const ci = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false'

describe('read start on LMDB 0.9.24 (native/read_start.cc)', () => {
  if (built.bin === null && !ci) {
    it.skip(`needs g++ and liblmdb-dev (apt-get install g++ liblmdb-dev), or the prebuilt stress: ${built.reason}`, () => {})
    return
  }

  it('settled reads always get the snapshot their txn id names; LMDB alone does not', () => {
    if (built.bin === null) throw new Error(`CI is set and the stress program does not build (apt-get install g++ liblmdb-dev): ${built.reason}`)
    const raw = stress(built.bin, 'raw', 15, 5)
    console.log(`[read-start] LMDB alone: ${raw.anomalies} wrong snapshots in ${raw.reads} reads, ${raw.seconds.toFixed(1)} s, ${raw.commits} commits`)
    // The stress must reach the race, or the settled run below proves nothing.
    expect(raw.anomalies).toBeGreaterThanOrEqual(5)
    const seconds = Math.min(15, Math.max(3, 3 * raw.seconds))
    const settled = stress(built.bin, 'settled', seconds, 1)
    console.log(`[read-start] settled: ${settled.anomalies} wrong snapshots, ${settled.back} reads behind an earlier one, in ${settled.reads} reads, ${settled.seconds.toFixed(1)} s, ${settled.commits} commits`)
    expect(settled.seconds).toBeGreaterThanOrEqual(seconds * 0.9)
    expect(settled.commits).toBeGreaterThan(1000)
    expect(settled.anomalies).toBe(0)
    expect(settled.back).toBe(0)
  }, 60_000)
})
