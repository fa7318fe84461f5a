// The JetStream publisher and replica consumer against synthetic records
// (one record = a JSON list of writes), before they are plugged into
// replicate(): order, parts, redelivery, and a killed/restarted server.
import { afterEach, expect, it } from 'vitest'
import { JetStreamPublisher, StreamMissingError, StreamRefusedError } from '../../dist/sync/jetstream-publisher.js'
import { JetStreamReplica, type ReplicaTarget } from '../../dist/sync/jetstream-replica.js'
import { open } from '../helpers/lib'
import { describeNats, NatsCluster } from '../helpers/nats'
import { tmpDir } from '../helpers/tmp'

const STORE = 'a1b2c3d4e5f60718293a4b5c6d7e8f90'
// synthetic wire message: JSON { storeId, seq, part, parts, data }
const header = (b: Uint8Array): any => { const o = JSON.parse(Buffer.from(b).toString()); return { storeId: o.storeId, seq: o.seq, part: o.part, parts: o.parts } }
const msg = (seq: number, part = 0, parts = 1, data = `v${seq}`): Buffer => Buffer.from(JSON.stringify({ storeId: STORE, seq, part, parts, data }))

/** Emulates the replica apply: whole records in one txn with their seq, parts staged, gaps refused. */
function target (dir: string): ReplicaTarget & { store: any, log: number[] } {
  const store = open(dir)
  const log: number[] = []
  const staged = new Map<number, string>()
  return {
    store, log, header,
    primary: () => store.readString('meta/primary'),
    appliedSeq: () => Number(store.readString('meta/applied') ?? 0),
    async apply (bytes) {
      const m = JSON.parse(Buffer.from(bytes).toString())
      const applied = Number(store.readString('meta/applied') ?? 0)
      if (m.seq <= applied) return { status: 'duplicate' }
      const gap = (): never => { throw Object.assign(new Error('gap'), { code: 'GAP', expected: { seq: applied + 1, part: 0 } }) }
      if (m.seq !== applied + 1) gap()
      if (m.part > 0 && staged.get(m.part - 1) === undefined) gap()
      staged.set(m.part, m.data)
      if (m.part + 1 < m.parts) return { status: 'staged' }
      const data = Array.from({ length: m.parts }, (_, i) => staged.get(i)).join('')
      staged.clear()
      store.transactionSync((txn: any) => {
        txn.write(`k/${m.seq}`, data)
        txn.write('meta/primary', m.storeId)
        txn.write('meta/applied', String(m.seq))
      })
      log.push(m.seq)
      return { status: 'applied' }
    }
  }
}

const until = async (cond: () => boolean, ms = 20_000): Promise<void> => {
  const end = Date.now() + ms
  while (!cond()) { if (Date.now() > end) throw new Error('condition not met in time'); await new Promise((r) => setTimeout(r, 20)) }
}

let cleanup: Array<() => Promise<void>> = []
afterEach(async () => { for (const f of cleanup.reverse()) await f(); cleanup = [] })

describeNats('JetStream publisher and replica (synthetic records)', () => {
  it('refuses a missing stream unless asked to create it', async () => {
    const c = await NatsCluster.start(1); cleanup.push(() => c.stop())
    const pub = new JetStreamPublisher({ nats: c.urls, stream: 'orders' }, STORE, header); cleanup.push(() => pub.close())
    await expect(pub.connect()).rejects.toThrow(StreamMissingError)
  })

  it('streams records in order, splits big ones, survives a server kill -9, refuses when full', async () => {
    const c = await NatsCluster.start(1, { maxPayload: 64 * 1024 }); cleanup.push(() => c.stop())
    const pub = new JetStreamPublisher({ nats: c.urls, stream: 'orders', create: { replicas: 1, maxBytes: 4 << 20 } }, STORE, header); cleanup.push(() => pub.close())
    await pub.connect()
    expect(pub.maxPayload()).toBeLessThan(64 * 1024)
    const t = target(tmpDir()); cleanup.push(async () => t.store.close())
    const rep = new JetStreamReplica({ nats: c.urls, stream: 'orders', consumer: 'r1' }, t); cleanup.push(() => rep.close())
    let seq = 0
    const send = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        seq++
        for (;;) {
          try { await pub.publish(msg(seq), { seq, part: 0, parts: 1 }); break } catch { await new Promise((r) => setTimeout(r, 50)) }
        }
      }
    }
    await send(50)
    // a record over max_payload: three parts
    const size = pub.maxPayload() - 200
    seq++
    for (let i = 0; i < 3; i++) await pub.publish(msg(seq, i, 3, String(i).repeat(size)), { seq, part: i, parts: 3 })
    const killer = (async () => { await new Promise((r) => setTimeout(r, 30)); await c.nodes[0].kill(); c.nodes[0].start() })()
    await send(100)
    await killer
    await until(() => t.appliedSeq() === seq)
    expect(t.log).toEqual(Array.from({ length: seq }, (_, i) => i + 1))
    expect(t.store.readString(`k/${51}`)).toBe('0'.repeat(pub.maxPayload() - 200) + '1'.repeat(pub.maxPayload() - 200) + '2'.repeat(pub.maxPayload() - 200))
    // stream full: discard new refuses
    let refused: unknown
    for (let i = 0; i < 200 && refused === undefined; i++) {
      try { seq++; await pub.publish(msg(seq, 0, 1, 'h'.repeat(60_000)), { seq, part: 0, parts: 1 }) } catch (e) { refused = e; seq-- }
    }
    expect(refused).toBeInstanceOf(StreamRefusedError)
    expect(String((refused as Error).message)).toMatch(/orders/)
  })
})

describeNats('JetStream publisher and replica on a three-node cluster (synthetic records)', () => {
  it('keeps order and loses nothing when the stream leader is killed -9 mid-stream', async () => {
    const c = await NatsCluster.start(3); cleanup.push(() => c.stop())
    const pub = new JetStreamPublisher({ nats: c.urls, stream: 'orders', create: { replicas: 3 }, ackTimeoutMs: 2000 }, STORE, header); cleanup.push(() => pub.close())
    await pub.connect()
    const t = target(tmpDir()); cleanup.push(async () => t.store.close())
    const rep = new JetStreamReplica({ nats: c.urls, stream: 'orders', consumer: 'r1' }, t); cleanup.push(() => rep.close())
    let seq = 0
    let failures = 0
    const send = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        seq++
        for (;;) {
          try { await pub.publish(msg(seq), { seq, part: 0, parts: 1 }); break } catch { failures++; await new Promise((r) => setTimeout(r, 50)) }
        }
      }
    }
    await send(50)
    const leader = await c.streamLeader('orders')
    expect(leader).toBeDefined()
    const killer = (async () => { await new Promise((r) => setTimeout(r, 50)); await leader!.kill() })()
    const t0 = Date.now()
    await send(150)
    await killer
    const newLeader = await c.streamLeader('orders')
    expect(newLeader?.name).not.toBe(leader!.name)
    await until(() => t.appliedSeq() === seq, 30_000)
    console.log(`leader ${leader!.name} killed; ${failures} publish failures; 150 records in ${Date.now() - t0} ms; replica restarts ${rep.status().restarts}, skipped ${rep.status().skipped}`)
    expect(t.log).toEqual(Array.from({ length: seq }, (_, i) => i + 1))
    leader!.start()
    await c.waitReady()
  })
})
