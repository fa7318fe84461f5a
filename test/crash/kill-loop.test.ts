/**
 * Kill loop (issue 5, part 1). A writer child commits messages through one
 * write path and acknowledges each returned commit over IPC; the parent
 * SIGKILLs it at a random moment (or on its "about to commit" notice, to aim
 * at the commit itself), then verifies the store: every
 * acknowledged message complete, every message complete or wholly absent,
 * no dangling link, the complete messages a prefix 0..n-1 (no later commit
 * survives an earlier loss), mdb_stat page accounting balanced.
 *
 * Successive writers of one store rotate through the three durability
 * modes: a killed *process* must never lose a returned commit in any mode.
 *
 *   npm test                                 ≥ 200 kills (default 210)
 *   LMDB_TXN_CRASH_KILLS=5000 npm run test:crash   the long run
 *   LMDB_TXN_CRASH_SEED=<n>                  replay a run's kill timings
 */
import { afterAll, describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp'
import { IpcChild, PACKAGE, SEED, isPrefix, rng, saveFigures, verify } from './lib/harness'

const KILLS = Number(process.env.LMDB_TXN_CRASH_KILLS ?? 210)
const APIS = ['begin', 'transactionSync', 'writeMessage', 'batch', 'transaction'] as const
const PER_API = Math.ceil(KILLS / APIS.length)
/** A fresh store every so many kills bounds the verification cost of long runs. */
const KILLS_PER_STORE = Number(process.env.LMDB_TXN_CRASH_KILLS_PER_STORE ?? 25)
const MESSAGES_PER_WRITER = 40
const MODES = ['sync', 'nometasync', 'nosync'] as const

const totals = {
  kills: 0,
  messagesAcked: 0,
  messageChecks: 0, // complete messages verified, summed over every verification
  messagesInFinalStores: 0,
  ackedButMissing: 0,
  partial: 0,
  danglingLinks: 0,
  committedNotAcked: 0, // the kill landed between commit and the ack reaching the parent
  killedBeforeReady: 0, // the kill landed during process start or open()
  killsAimedAtCommit: 0, // strategy 4: SIGKILL on the writer's "about to commit" notice
  aimedCommitLanded: 0, // … and that commit was there afterwards (the kill came after its meta page)
  aimedCommitLost: 0, // … and it was not (the kill came before)
  mdbStatRuns: 0,
  perApi: {} as Record<string, { kills: number, acked: number, stores: number }>
}

async function killOnce (dir: string, api: string, durability: string, first: number, rand: () => number):
Promise<{ acked: number[], beforeReady: boolean, strategy: number, aimedAt?: number, exit: { code: number | null, signal: string | null, stderr: string } }> {
  const strategy = Math.floor(rand() * 5)
  const child = new IpcChild('writer.cjs', [PACKAGE, dir, api, durability, String(first), String(MESSAGES_PER_WRITER), strategy === 4 ? '1' : '0'])
  const acked: number[] = []
  let ready = false
  let notices = 0
  let lastNotice: number | undefined
  const afterAcks = Math.floor(rand() * 12)
  const delayMs = rand() * 3
  let armed = false
  const fire = (): void => {
    if (armed) return
    armed = true
    if (strategy === 0) child.kill() // synchronously, in the IPC handler
    else if (strategy === 1) setImmediate(() => child.kill())
    else setTimeout(() => child.kill(), delayMs)
  }
  child.onMessage((m) => {
    if (m.ready) ready = true
    if (typeof m.ack === 'number') acked.push(m.ack)
    // strategy 4: on the k-th "about to commit" notice, aiming at the commit itself
    if (strategy === 4) {
      if (typeof m.committing === 'number' && notices++ >= afterAcks && lastNotice === undefined) {
        lastNotice = m.committing
        child.kill()
      }
    } else if (strategy !== 3 && ((m.ready && afterAcks === 0) || acked.length >= afterAcks || m.done)) fire()
    if (m.done) child.kill()
  })
  // strategy 3: a random moment after spawn, wherever the child is (startup, open, writing)
  if (strategy === 3) setTimeout(() => child.kill(), rand() * 120)
  const exit = await child.exited
  return { acked, beforeReady: !ready, exit, strategy, aimedAt: lastNotice }
}

describe(`kill loop (${KILLS} kills, seed ${SEED})`, () => {
  const rand = rng(SEED)

  for (const api of APIS) {
    it(`${api}: SIGKILL at random moments never leaves a partial or lost message`, async () => {
      const stat = (totals.perApi[api] = { kills: 0, acked: 0, stores: 0 })
      let dir = ''
      let next = 0 // the next seq to write = number of complete messages
      let acked = new Set<number>()
      for (let k = 0; k < PER_API; k++) {
        if (k % KILLS_PER_STORE === 0) {
          if (dir) totals.messagesInFinalStores += next
          dir = tmpDir(`kill-${api}`)
          next = 0
          acked = new Set()
          stat.stores++
        }
        const durability = MODES[k % MODES.length]
        const r = await killOnce(dir, api, durability, next, rand)
        // The child must die by our SIGKILL, never by an error of its own.
        expect(r.exit.signal, `writer exited ${r.exit.code}: ${r.exit.stderr}`).toBe('SIGKILL')
        totals.kills++
        stat.kills++
        if (r.beforeReady) totals.killedBeforeReady++
        if (r.strategy === 4) totals.killsAimedAtCommit++
        for (const s of r.acked) acked.add(s)
        totals.messagesAcked += r.acked.length
        stat.acked += r.acked.length

        const maxSeq = next + MESSAGES_PER_WRITER
        const report = verify(dir, { maxSeq, acked })
        if (report.tools) totals.mdbStatRuns++
        totals.messageChecks += report.complete.length
        totals.ackedButMissing += report.missingAcked.length
        totals.partial += report.partial.length
        totals.danglingLinks += report.dangling
        const last = r.acked.length ? Math.max(...r.acked) : next - 1
        totals.committedNotAcked += report.complete.filter((s: number) => s > last).length
        expect(report.problems, `after kill ${k} (${durability}, seed ${SEED})`).toEqual([])
        expect(isPrefix(report.complete), `complete messages are not 0..n-1: ${report.complete}`).toBe(true)
        if (r.aimedAt !== undefined) {
          if (report.complete.includes(r.aimedAt)) totals.aimedCommitLanded++
          else totals.aimedCommitLost++
        }
        next = report.complete.length
      }
      totals.messagesInFinalStores += next
    }, 30_000 + PER_API * 3_000)
  }

  afterAll(() => {
    const file = saveFigures('kill-loop', totals)
    console.log(`[crash] kill loop: ${totals.kills} kills, ${totals.messagesAcked} messages acked, ` +
      `${totals.messageChecks} message verifications (${totals.messagesInFinalStores} messages in the final stores), ` +
      `acked-but-missing ${totals.ackedButMissing}, partial ${totals.partial}, dangling links ${totals.danglingLinks}, ` +
      `committed-not-yet-acked ${totals.committedNotAcked}, killed before ready ${totals.killedBeforeReady}, ` +
      `kills aimed at a commit ${totals.killsAimedAtCommit} (that commit present afterwards ${totals.aimedCommitLanded}, absent ${totals.aimedCommitLost}), ` +
      `mdb_stat runs ${totals.mdbStatRuns}, seed ${SEED} → ${file}`)
  })
})
