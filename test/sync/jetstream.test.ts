// JetStream transport in one process against a real nats-server: records
// over max_payload as parts, a full stream (maxBytes) on rep.status() and
// in a rep.transaction() rejection while the retry goes on, a missing
// stream, a gap that stops a replica, and the optional client packages.
import { spawnSync } from 'node:child_process'
import * as path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { open } from '../helpers/lib'
import { ROOT } from '../helpers/child'
import { describeNats, NatsCluster } from '../helpers/nats'
import { tmpDir } from '../helpers/tmp'
import { jetStreamReplica, replicate, ReplicaGapError, SyncTimeoutError } from '../../dist/sync/index.js'

const CLI = path.join(ROOT, 'bin', 'lmdb-txn.js')
let cleanup: Array<() => unknown> = []
afterEach(async () => { for (const f of cleanup.reverse()) await f(); cleanup = [] })

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
async function until (what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`)
    await sleep(20)
  }
}

async function cluster (opts: { maxPayload?: number } = {}): Promise<NatsCluster> {
  const c = await NatsCluster.start(1, opts)
  cleanup.push(() => c.stop())
  return c
}

function store (label: string, changeLog = false): any {
  const s = open(tmpDir(label), { changeLog })
  cleanup.push(() => s.close())
  return s
}

describeNats('JetStream transport (real nats-server)', () => {
  it('sends a record over max_payload as parts that the replica applies in one transaction', async () => {
    const c = await cluster({ maxPayload: 16 * 1024 })
    const p = store('primary', true)
    const rep = replicate(p, { peers: [{ nats: c.urls, stream: 'big', create: {} }] })
    cleanup.push(() => rep.close())
    const big = Buffer.alloc(100_000, 7)
    await rep.transaction((txn: any) => { txn.write('big/a', big); txn.write('big/b', 'after') }, { timeout: 20_000 })
    // the stream holds several messages for this one record
    const nc = await connect({ servers: c.urls })
    const info = await (await jetstreamManager(nc)).streams.info('big')
    await nc.close()
    expect(info.state.messages).toBeGreaterThanOrEqual(7)
    const r = store('replica')
    const sub = jetStreamReplica(r, { nats: c.urls, stream: 'big' })
    cleanup.push(() => sub.close())
    await until('replica applied', () => r.stat().replica?.appliedSeq === 1)
    expect(Buffer.from(r.read('big/a')).equals(big)).toBe(true)
    expect(r.readString('big/b')).toBe('after')
  })

  it('a full stream (maxBytes) shows on status() and rejects rep.transaction() after its timeout; the retry goes on', async () => {
    const c = await cluster()
    const p = store('primary', true)
    const rep = replicate(p, {
      peers: [{ nats: c.urls, stream: 'small', create: { maxBytes: 64 * 1024 } }],
      backoff: { initialMs: 20, maxMs: 200 }
    })
    cleanup.push(() => rep.close())
    let rejected: unknown
    for (let i = 0; i < 40 && rejected === undefined; i++) {
      try {
        await rep.transaction((txn: any) => txn.write(`k/${i}`, Buffer.alloc(8 * 1024, i)), { timeout: 1500 })
      } catch (e) { rejected = e }
    }
    expect(rejected).toBeInstanceOf(SyncTimeoutError)
    const st = rep.status()[0]
    expect(st.retrying).toBe(true)
    expect(st.lastError).toMatch(/refused record \d+: .*maximum bytes/i)
    expect(st.pending).toBeGreaterThan(0)
    // the write itself is committed locally
    const seq = p.stat().changeLog!.last
    // room again: the retry delivers everything without anyone asking
    const nc = await connect({ servers: c.urls })
    const jsm = await jetstreamManager(nc)
    const cfg = (await jsm.streams.info('small')).config
    await jsm.streams.update('small', { ...cfg, max_bytes: 16 << 20 })
    await nc.close()
    await rep.synced(seq, { timeout: 20_000 })
    expect(rep.status()[0]).toMatchObject({ acked: seq, pending: 0, retrying: false })
  })

  it('without create a missing stream is a clear error on status(), retried', async () => {
    const c = await cluster()
    const p = store('primary', true)
    const rep = replicate(p, { peers: [{ nats: c.urls, stream: 'absent' }], backoff: { initialMs: 20, maxMs: 100 } })
    cleanup.push(() => rep.close())
    await p.transaction((txn: any) => txn.write('a', '1'))
    await until('error on status()', () => rep.status()[0].lastError !== undefined)
    expect(rep.status()[0].lastError).toMatch(/stream "absent" does not exist .*create/)
    await expect(rep.synced(1, { timeout: 300 })).rejects.toBeInstanceOf(SyncTimeoutError)
  })

  it('a replica stops with a clear error on a gap in the stream and applies nothing out of order', async () => {
    const c = await cluster()
    const p = store('primary', true)
    const rep = replicate(p, { peers: [{ nats: c.urls, stream: 'gappy', create: {} }] })
    cleanup.push(() => rep.close())
    for (let i = 0; i < 5; i++) await rep.transaction((txn: any) => txn.write(`k/${i}`, String(i)), { timeout: 10_000 })
    const nc = await connect({ servers: c.urls })
    await (await jetstreamManager(nc)).streams.purge('gappy')
    await nc.close()
    for (let i = 5; i < 8; i++) await rep.transaction((txn: any) => txn.write(`k/${i}`, String(i)), { timeout: 10_000 })
    const r = store('replica')
    const sub = jetStreamReplica(r, { nats: c.urls, stream: 'gappy', consumer: 'late' })
    cleanup.push(() => sub.close())
    await expect(sub.done).rejects.toBeInstanceOf(ReplicaGapError)
    await expect(sub.done).rejects.toThrow(/expects record 1 but stream "gappy" continues with 6/)
    expect(sub.status()).toMatchObject({ stopped: true, appliedSeq: 0 })
    expect(r.exists('k/5')).toBe(false)
  })

  it('lmdb-txn replicate: usage mistakes exit 2 with one line', () => {
    const run = (...args: string[]): ReturnType<typeof spawnSync> => spawnSync(process.execPath, [CLI, 'replicate', ...args], { encoding: 'utf8', timeout: 20_000 })
    const dir = tmpDir('replica')
    let r = run(dir, '--stream', 's')
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/--nats <url> is required/)
    r = run(dir, '--nats', 'nats://127.0.0.1:1', '--stream', 'no spaces')
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/stream must be 1-128 characters/)
    r = run(dir, '--nats', 'http://127.0.0.1:1', '--stream', 's')
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/unsupported scheme/)
  })
})

it('without the optional NATS packages a { nats } peer fails naming them (HTTP users never load them)', () => {
  // a child where resolving @nats-io/* fails as if they were not installed
  const script = `
    const Module = require('node:module')
    const resolve = Module._resolveFilename
    Module._resolveFilename = function (req, ...rest) {
      if (req.startsWith('@nats-io/')) { const e = new Error('Cannot find module ' + req); e.code = 'MODULE_NOT_FOUND'; throw e }
      return resolve.call(this, req, ...rest)
    }
    const { open } = require(${JSON.stringify(ROOT)})
    const { replicate } = require(${JSON.stringify(ROOT + '/dist/sync/index.js')})
    const store = open(process.argv[1], { changeLog: true })
    const rep = replicate(store, { peers: [{ nats: 'nats://127.0.0.1:1', stream: 's' }], backoff: { initialMs: 10, maxMs: 10 } })
    setTimeout(async () => { console.log(JSON.stringify(rep.status()[0])); await rep.close(); store.close() }, 300)
  `
  const r = spawnSync(process.execPath, ['-e', script, tmpDir('primary')], { encoding: 'utf8', timeout: 20_000 })
  expect(r.status).toBe(0)
  const st = JSON.parse(r.stdout)
  expect(st.lastError).toMatch(/needs the optional packages @nats-io\/transport-node and @nats-io\/jetstream/)
})
