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
const enc = (seq: number): Uint8Array => Buffer.from(JSON.stringify([[`k/${seq}`, `v${seq}`]]))

function target (dir: string): ReplicaTarget & { store: any, log: number[] } {
  const store = open(dir)
  const log: number[] = []
  return {
    store, log,
    primary: () => store.readString('meta/primary'),
    appliedSeq: () => Number(store.readString('meta/applied') ?? 0),
    async apply (primary, seq, parts) {
      const ops = JSON.parse(Buffer.concat(parts).toString())
      store.transactionSync((txn: any) => {
        for (const [p, v] of ops) txn.write(p, v)
        txn.write('meta/primary', primary)
        txn.write('meta/applied', String(seq))
      })
      log.push(seq)
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
    const pub = new JetStreamPublisher({ nats: c.urls, stream: 'orders' }, STORE); cleanup.push(() => pub.close())
    await expect(pub.connect()).rejects.toThrow(StreamMissingError)
  })

  it('streams records in order, splits big ones, survives a server kill -9, refuses when full', async () => {
    const c = await NatsCluster.start(1, { maxPayload: 64 * 1024 }); cleanup.push(() => c.stop())
    const pub = new JetStreamPublisher({ nats: c.urls, stream: 'orders', create: { replicas: 1, maxBytes: 4 << 20 } }, STORE); cleanup.push(() => pub.close())
    await pub.connect()
    expect(pub.maxPayload()).toBeLessThan(64 * 1024)
    const t = target(tmpDir()); cleanup.push(async () => t.store.close())
    const rep = new JetStreamReplica({ nats: c.urls, stream: 'orders', consumer: 'r1' }, t); cleanup.push(() => rep.close())
    let seq = 0
    const send = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        seq++
        for (;;) {
          try { await pub.publish(seq, [enc(seq)]); break } catch { await new Promise((r) => setTimeout(r, 50)) }
        }
      }
    }
    await send(50)
    // a record over max_payload: three parts
    const big = Buffer.from(JSON.stringify([[`k/big`, 'x'.repeat(150_000)]]))
    const size = pub.maxPayload()
    const parts = [big.subarray(0, size), big.subarray(size, 2 * size), big.subarray(2 * size)]
    seq++; await pub.publish(seq, parts)
    const killer = (async () => { await new Promise((r) => setTimeout(r, 30)); await c.nodes[0].kill(); c.nodes[0].start() })()
    await send(100)
    await killer
    await until(() => t.appliedSeq() === seq)
    expect(t.log).toEqual(Array.from({ length: seq }, (_, i) => i + 1))
    expect(t.store.readString('k/big')).toHaveLength(150_000)
    // stream full: discard new refuses
    const huge = Buffer.alloc(60_000, 1)
    let refused: unknown
    for (let i = 0; i < 200 && refused === undefined; i++) {
      try { seq++; await pub.publish(seq, [huge]) } catch (e) { refused = e; seq-- }
    }
    expect(refused).toBeInstanceOf(StreamRefusedError)
    expect(String((refused as Error).message)).toMatch(/orders/)
  })
})
