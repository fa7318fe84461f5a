// JetStream replication end to end with real processes: a primary child
// (replicate() with a { nats, stream } peer), replicas run as
// `lmdb-txn replicate <dir> --nats … --stream …`, reader children on the
// replica, and real nats-server nodes, each killed -9 at the worst moment
// the test can aim for. After each: the replica's dump is byte-equal to the
// primary's, no record was applied twice (the replica's own change log has
// exactly one record per primary record), and no reader ever saw part of a
// transaction or the state going back.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import * as path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { open } from '../helpers/lib'
import { ROOT } from '../helpers/child'
import { describeNats, NatsCluster } from '../helpers/nats'
import { tmpDir } from '../helpers/tmp'
import { decodeMessage } from '../../dist/sync/index.js'

const CLI = path.join(ROOT, 'bin', 'lmdb-txn.js')
const CHILDREN = path.join(__dirname, 'children')
const STREAM = 'orders'

/** A child process whose stdout is JSON lines; killed by pid at the end of the test. */
class Proc {
  readonly lines: any[] = []
  stderr = ''
  readonly exited: Promise<number | null>
  constructor (readonly proc: ChildProcess) {
    let buf = ''
    proc.stdout!.setEncoding('utf8')
    proc.stdout!.on('data', (c: string) => {
      buf += c
      let nl
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl); buf = buf.slice(nl + 1)
        try { this.lines.push(JSON.parse(line)) } catch { this.lines.push({ text: line }) }
      }
    })
    proc.stderr!.setEncoding('utf8')
    proc.stderr!.on('data', (c: string) => { this.stderr = (this.stderr + c).slice(-20_000) })
    this.exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)))
    live.add(this)
    void this.exited.then(() => live.delete(this))
  }

  get running (): boolean { return this.proc.exitCode === null && this.proc.signalCode === null }

  async waitLine (pred: (l: any) => boolean, ms: number, what: string): Promise<any> {
    const end = Date.now() + ms
    for (;;) {
      const l = this.lines.find(pred)
      if (l !== undefined) return l
      if (!this.running) throw new Error(`${what}: process exited (${this.proc.exitCode ?? this.proc.signalCode}); stderr:\n${this.stderr}\nlines: ${JSON.stringify(this.lines.slice(-3))}`)
      if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms; stderr:\n${this.stderr}\nlines: ${JSON.stringify(this.lines.slice(-3))}`)
      await sleep(20)
    }
  }

  /** SIGKILL (or another signal) by pid; resolves once it is gone. */
  async kill (signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (this.running) process.kill(this.proc.pid!, signal)
    return await this.exited
  }
}

const live = new Set<Proc>()
let clusters: NatsCluster[] = []
afterEach(async () => {
  await Promise.all([...live].map((p) => p.kill()))
  await Promise.all(clusters.map((c) => c.stop()))
  clusters = []
})

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function startCluster (size: 1 | 3): Promise<NatsCluster> {
  const c = await NatsCluster.start(size)
  clusters.push(c)
  return c
}

function primary (dir: string, c: NatsCluster, from: number, to: number, opts: { replicas?: number, burst?: boolean } = {}): Proc {
  const args = [path.join(CHILDREN, 'primary.cjs'), ROOT, dir, c.urls.join(','), STREAM, String(opts.replicas ?? 1), String(from), String(to), '0']
  if (opts.burst === true) args.push('burst')
  return new Proc(spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }))
}

function replica (dir: string, c: NatsCluster, consumer: string): Proc {
  return new Proc(spawn(process.execPath, [CLI, 'replicate', dir, '--nats', c.urls.join(','), '--stream', STREAM, '--consumer', consumer, '--change-log'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }))
}

function reader (dir: string): Proc {
  return new Proc(spawn(process.execPath, [path.join(CHILDREN, 'reader.cjs'), ROOT, dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }))
}

/** Applied seq of a replica store (read-only, from this process). */
function appliedSeq (dir: string): number {
  try {
    const s = open(dir, { readOnly: true })
    try { return s.stat().replica?.appliedSeq ?? 0 } finally { s.close() }
  } catch { return 0 }
}

async function waitApplied (dir: string, seq: number, ms: number, rep: Proc): Promise<void> {
  const end = Date.now() + ms
  while (appliedSeq(dir) < seq) {
    if (!rep.running) {
      throw new Error(`replica exited (${rep.proc.exitCode}): ${rep.stderr}\nprimary: ${[...live].map((p) => p.stderr).join('\n---\n')}`)
    }
    if (Date.now() > end) throw new Error(`replica at ${appliedSeq(dir)}, not ${seq}, after ${ms} ms: ${rep.stderr}`)
    await sleep(50)
  }
}

/** `lmdb-txn dump <dir>`, without the header's creation time (the only line that may differ). */
function dump (dir: string): Buffer {
  const r = spawnSync(process.execPath, [CLI, 'dump', dir], { cwd: ROOT, maxBuffer: 256 << 20 })
  if (r.status !== 0) throw new Error(`dump ${dir} failed: ${r.stderr}`)
  return Buffer.from(r.stdout.toString('latin1').replace(/^(\{[^\n]*)"created":"[^"]*",/, '$1'), 'latin1')
}

/** Records in a store's own change log (a replica opened with changeLog logs each apply once). */
function changeCount (dir: string): { count: number, last: number } {
  const s = open(dir, { readOnly: true })
  try { const cl = s.stat().changeLog!; return { count: cl.count, last: cl.last } } finally { s.close() }
}

/** Stops readers and replicas cleanly, then checks everything the file comment promises. */
async function verify (primaryDir: string, replicas: Array<{ dir: string, proc: Proc, readers: Proc[] }>): Promise<void> {
  const p = changeCount(primaryDir)
  const want = dump(primaryDir)
  for (const r of replicas) {
    await waitApplied(r.dir, p.last, 30_000, r.proc)
    for (const rd of r.readers) {
      expect(await rd.kill('SIGTERM')).toBe(0)
      const res = rd.lines.at(-1)
      expect(res.error).toBeUndefined()
      expect(res.violations).toEqual([])
      expect(res.passes).toBeGreaterThan(10)
    }
    expect(await r.proc.kill('SIGTERM')).toBe(0)
    const got = dump(r.dir)
    if (!got.equals(want)) {
      const a = want.toString().split('\n'); const b = got.toString().split('\n')
      const i = a.findIndex((l, k) => l !== b[k])
      throw new Error(`dumps differ at line ${i} (primary ${a.length} lines, replica ${b.length}):\n${a[i]}\n${b[i]}`)
    }
    // one local record per primary record: nothing applied twice
    expect(changeCount(r.dir).count).toBe(p.count)
  }
}

/**
 * Last record seq the stream holds for `store` (0 if none, or no stream yet).
 * A JetStream API request can time out while a burst of publishes loads a
 * small machine: retried (bounded), like the cluster helper's leader query.
 */
async function streamLast (c: NatsCluster, storeId: string): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const nc = await connect({ servers: c.urls.filter((_, i) => c.nodes[i].running) })
    try {
      const jsm = await jetstreamManager(nc, { timeout: 10_000 })
      const m = await jsm.streams.getMessage(STREAM, { last_by_subj: `lmdb-txn.${STREAM}.${storeId}` }).catch((e) => {
        if (/stream not found/i.test(String(e?.message))) return null
        throw e
      })
      return m === null ? 0 : decodeMessage(m.data).seq
    } catch (e) {
      if (attempt >= 4 || !/timeout/i.test(String((e as Error)?.name) + String((e as Error)?.message))) throw e
    } finally { await nc.close() }
  }
}

function storeIdOf (dir: string): string {
  const s = open(dir, { readOnly: true })
  try { return s.stat().storeId! } finally { s.close() }
}

describeNats('JetStream replication: faults (real nats-server, real processes)', () => {
  it('kill -9 of the only server mid-stream, restarted on the same store dir', async () => {
    const c = await startCluster(1)
    const pdir = tmpDir('primary'); const rdir = tmpDir('replica')
    const pri = primary(pdir, c, 0, 600)
    await pri.waitLine((l) => l.committed >= 20, 20_000, 'first commits')
    const rep = replica(rdir, c, 'r1')
    await waitApplied(rdir, 1, 20_000, rep)
    const rd = reader(rdir)
    await pri.waitLine((l) => l.committed >= 200, 30_000, 'commits before the kill')
    await c.nodes[0].kill()
    await sleep(300)
    c.nodes[0].start()
    await c.waitReady()
    await pri.waitLine((l) => l.synced !== undefined, 60_000, 'primary synced after the restart')
    await verify(pdir, [{ dir: rdir, proc: rep, readers: [rd] }])
  })

  it('kill -9 of the stream leader of a three-node cluster (replicas: 3) mid-stream', async () => {
    const c = await startCluster(3)
    const pdir = tmpDir('primary'); const r1 = tmpDir('replica'); const r2 = tmpDir('replica')
    const pri = primary(pdir, c, 0, 500, { replicas: 3 })
    await pri.waitLine((l) => l.committed >= 20, 20_000, 'first commits')
    const rep1 = replica(r1, c, 'r1'); const rep2 = replica(r2, c, 'r2')
    await waitApplied(r1, 1, 20_000, rep1)
    const rd = reader(r1)
    await pri.waitLine((l) => l.committed >= 150, 30_000, 'commits before the kill')
    const leader = await c.streamLeader(STREAM)
    expect(leader).toBeDefined()
    await leader!.kill()
    await pri.waitLine((l) => l.synced !== undefined, 40_000, 'primary synced after the leader change')
    const now = await c.streamLeader(STREAM)
    expect(now?.name).not.toBe(leader!.name)
    await verify(pdir, [{ dir: r1, proc: rep1, readers: [rd] }, { dir: r2, proc: rep2, readers: [] }])
  })

  it('kill -9 of a replica mid-apply, restarted', async () => {
    const c = await startCluster(1)
    const pdir = tmpDir('primary'); const rdir = tmpDir('replica')
    const pri = primary(pdir, c, 0, 600)
    const rep = replica(rdir, c, 'r1')
    await waitApplied(rdir, 1, 20_000, rep)
    const rd = reader(rdir)
    await waitApplied(rdir, 150, 30_000, rep)
    await rep.kill()
    const at = appliedSeq(rdir)
    const again = replica(rdir, c, 'r1')
    await pri.waitLine((l) => l.synced !== undefined, 60_000, 'primary synced')
    await verify(pdir, [{ dir: rdir, proc: again, readers: [rd] }])
    expect(at).toBeLessThan(changeCount(pdir).last)  // the kill did land mid-stream
  })

  it('kill -9 of the primary between commit and publish, restarted', async () => {
    const c = await startCluster(1)
    const pdir = tmpDir('primary'); const rdir = tmpDir('replica')
    const pri = primary(pdir, c, 0, 1500, { burst: true })
    const rep = replica(rdir, c, 'r1')
    await pri.waitLine((l) => l.committed >= 300, 30_000, 'commits before the kill')
    // kill once publishing has begun (the commits are far ahead of it)
    const end = Date.now() + 30_000
    while (await streamLast(c, storeIdOf(pdir)) === 0) {
      if (Date.now() > end) throw new Error(`nothing published within 30 s: ${pri.stderr}`)
      await sleep(20)
    }
    await pri.kill()
    const p = open(pdir, { readOnly: true })
    const committed = p.stat().changeLog!.last
    const storeId = p.stat().storeId!
    const last = Number(p.readString('last'))
    p.close()
    // committed here and not on the stream: the window the kill aimed at
    expect(await streamLast(c, storeId)).toBeLessThan(committed)
    const pri2 = primary(pdir, c, last + 1, last + 101)
    const rd = reader(rdir)
    await pri2.waitLine((l) => l.synced !== undefined, 60_000, 'restarted primary synced')
    await verify(pdir, [{ dir: rdir, proc: rep, readers: [rd] }])
  })
})
