import { describe, expect, it } from 'vitest'
import * as http from 'node:http'
import { open, type Store } from './helpers/lib'
import { tmpDir } from './helpers/tmp'
import { Child, ROOT } from './helpers/child'
import { entries, sleep, startProxy, startServe, until } from './helpers/sync'
// eslint-disable-next-line @typescript-eslint/no-var-requires
const sync = require('../dist/sync/index.js') as typeof import('../lib/sync/index')
const { replicate, serveReplica, encodeMessage, decodeMessage, splitRecord, SyncTimeoutError, applyMessage } = sync

const msg = (rep: { transaction: (fn: (t: any) => void, o?: any) => Promise<unknown> }, id: string, bytes = 64, timeout?: number): Promise<unknown> =>
  rep.transaction((t) => {
    t.writeMessage({ path: `msg/${id}`, fields: { body: Buffer.alloc(bytes, id.length), id, meta: { at: String(id) } }, links: [{ target: `msg/${id}`, path: `by-id/${id}` }] })
  }, timeout === undefined ? undefined : { timeout })

const fast = { initialMs: 20, maxMs: 200 }

function post (url: string, body: Buffer | string, headers: Record<string, string> = {}, route = '/v1/records'): Promise<{ status: number, body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url + route, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': Buffer.byteLength(body), ...headers } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => { const t = Buffer.concat(chunks).toString(); let b; try { b = JSON.parse(t) } catch { b = t } resolve({ status: res.statusCode!, body: b }) })
    })
    req.on('error', reject)
    req.end(body)
  })
}

function primaryRecord (store: Store, seq: number): Buffer {
  const c = store.changes({ after: seq - 1, limit: 1 })[0]
  return sync.encodeRecord(c.time, c.ops)
}

describe('wire format', () => {
  it('round-trips binary values; splits over limits into parts (op-aligned, mid-op when one op is too big) and per-op messages', () => {
    const store = open(tmpDir(), { changeLog: true })
    try {
      const value = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 256))
      store.transactionSync((t) => { t.makeGroup('g'); t.write('g/bin', value); t.write('g/s', 'x'); t.makeLink('g', 'l'); t.remove('old', { recursive: true }) })
      const record = primaryRecord(store, 1)
      const id = store.stat().storeId!
      const one = splitRecord(id, 1, record, { maxMessageBytes: 1 << 20, maxMessageOps: 100, batches: true })
      expect(one).toHaveLength(1)
      const back = decodeMessage(encodeMessage(one[0]))
      expect(back).toMatchObject({ storeId: id, seq: 1, part: 0, parts: 1, perOp: false })
      const op = sync.decodeRecord(1, back.payload).ops[1] as { op: string, path: string, value: Uint8Array }
      expect([op.op, op.path, Buffer.from(op.value).equals(value)]).toEqual(['write', 'g/bin', true])
      for (const limits of [{ maxMessageBytes: 1000, maxMessageOps: 100, batches: true }, { maxMessageBytes: 1 << 20, maxMessageOps: 2, batches: true }]) {
        const parts = splitRecord(id, 1, record, limits)
        expect(parts.length).toBeGreaterThan(1)
        for (const p of parts) expect(encodeMessage(p).length).toBeLessThanOrEqual(limits.maxMessageBytes)
        expect(Buffer.concat(parts.map((p) => p.payload))).toEqual(record)
      }
      const perOp = splitRecord(id, 1, record, { maxMessageBytes: 1 << 20, maxMessageOps: 100, batches: false })
      expect(perOp.map((p) => [p.part, p.parts, p.perOp])).toEqual([[0, 5, true], [1, 5, true], [2, 5, true], [3, 5, true], [4, 5, true]])
      expect(() => decodeMessage(Buffer.from('LTXR'))).toThrow(sync.RecordFormatError)
      const bad = encodeMessage(one[0]); bad[4] = 9
      expect(() => decodeMessage(bad)).toThrow(/wire version 9/)
    } finally { store.close() }
  })
})

describe('replication over HTTP (real processes, real sockets)', () => {
  it('64 concurrent rep.transaction() writers, 2,000 messages: replica equals the primary; reader processes on the replica never see part of a message', async () => {
    const primary = open(tmpDir('primary'), { changeLog: true })
    const replicaDir = tmpDir('replica')
    const serve = await startServe(replicaDir)
    const reader = new Child(`
      const { open } = require(${JSON.stringify(ROOT)});
      let store;
      onCommand(({ n }) => {
        store ??= open(process.argv[1], { readOnly: true });
        let seen = 0, partial = [];
        const ids = store.list('msg');
        for (const id of ids.slice(-n)) {
          const base = 'msg/' + id;
          const ok = store.type(base) === 'group' && store.readString(base + '/id') === id && store.read(base + '/body')?.length === 64 &&
            store.readString(base + '/meta/at') === id && store.resolve('by-id/' + id) === base;
          if (ok) seen++; else partial.push(id);
        }
        return { seen, partial };
      });
      reply({ ready: true });
    `, [replicaDir])
    const rep = replicate(primary, { peers: [{ url: serve.url }], backoff: fast })
    try {
      await reader.next()
      let next = 0
      let polls = 0
      const partials: string[] = []
      let writing = true
      const polling = (async () => {
        await until('the replica to exist', () => primary.lastChangeSeq() > 0)
        while (writing) {
          try {
            const r = await reader.send({ n: 50 })
            if (r.partial) { partials.push(...r.partial); polls++ }
          } catch { break }
        }
      })()
      await Promise.all(Array.from({ length: 64 }, async () => {
        while (next < 2000) { const id = String(next++); await msg(rep, id, 64, 20_000) }
      }))
      writing = false
      await polling
      expect(polls).toBeGreaterThan(3)
      expect(partials).toEqual([])
      const replica = open(replicaDir, { readOnly: true })
      try {
        expect(replica.stat().replica).toEqual({ primary: primary.stat().storeId, appliedSeq: 2000 })
        expect(entries(replica)).toEqual(entries(primary))
        expect(rep.status()).toEqual([expect.objectContaining({ acked: 2000, pending: 0, retrying: false })])
      } finally { replica.close() }
    } finally {
      await rep.close()
      await reader.close()
      await serve.kill()
      primary.close()
    }
  }, 120_000)

  it('a peer down, cut mid-body, answering 503, slow: rep.transaction times out with SyncTimeoutError, local data stays, delivery resumes; nothing lost or doubled; a dead peer stalls no other', async () => {
    const primary = open(tmpDir('primary'), { changeLog: true })
    const aDir = tmpDir('a')
    const bDir = tmpDir('b')
    const a = await startServe(aDir)
    const b = await startServe(bDir)
    const proxy = await startProxy(a.port)
    const rep = replicate(primary, { peers: [{ url: proxy.url, requestTimeoutMs: 2000 }, { url: b.url }], backoff: fast })
    try {
      await msg(rep, 'first', 64, 10_000)
      for (const mode of ['down', 'cut', '503'] as const) {
        proxy.mode = mode
        const before = proxy.connections
        const err = await msg(rep, `during-${mode}`, 5000, 400).catch((e) => e)
        expect(err).toBeInstanceOf(SyncTimeoutError)
        expect(err.peers).toEqual([proxy.url])
        expect(primary.read(`msg/during-${mode}/id`)?.toString()).toBe(`during-${mode}`) // never rolled back
        const seq = primary.lastChangeSeq()
        // the live peer got it although the other is failing
        await until('peer b', () => rep.status()[1].acked === seq)
        await until('retries', () => proxy.connections > before + 1)
        expect(rep.status()[0]).toMatchObject({ retrying: true, lastError: expect.any(String) })
        proxy.mode = 'pass'
        await rep.synced(seq, { timeout: 10_000 })
      }
      proxy.mode = 'slow'
      await msg(rep, 'slow', 64, 10_000)
      proxy.mode = 'pass'
      const last = primary.lastChangeSeq()
      await rep.synced(last, { timeout: 10_000 })
      for (const dir of [aDir, bDir]) {
        const r = open(dir, { readOnly: true })
        try {
          expect(r.stat().replica?.appliedSeq).toBe(last)
          expect(entries(r)).toEqual(entries(primary))
        } finally { r.close() }
      }
    } finally {
      await rep.close()
      await proxy.close()
      await a.kill()
      await b.kill()
      primary.close()
    }
  }, 90_000)

  it('SIGKILL of the replica mid-stream: it restarts where it stood, everything arrives once', async () => {
    const primary = open(tmpDir('primary'), { changeLog: true })
    const replicaDir = tmpDir('replica')
    let serve = await startServe(replicaDir)
    const port = serve.port
    const rep = replicate(primary, { peers: [{ url: serve.url }], backoff: fast })
    try {
      const writes = Array.from({ length: 400 }, (_, i) => msg(rep, String(i), 2000))
      await until('some applied', () => rep.status()[0].acked > 50)
      await serve.kill('SIGKILL')
      serve = await startServe(replicaDir, ['--port', String(port)])
      await Promise.all(writes)
      const r = open(replicaDir, { readOnly: true })
      try {
        expect(r.stat().replica?.appliedSeq).toBe(400)
        expect(entries(r)).toEqual(entries(primary))
      } finally { r.close() }
    } finally {
      await rep.close()
      await serve.kill()
      primary.close()
    }
  }, 60_000)

  it('SIGKILL of the primary between commit and send: the restarted primary resumes from its stored cursor, everything arrives once', async () => {
    const primaryDir = tmpDir('primary')
    const replicaDir = tmpDir('replica')
    const serve = await startServe(replicaDir)
    const proxy = await startProxy(serve.port)
    // The child commits 300 records; the peer link drops after the first ones, so the rest are committed, not sent.
    const child = new Child(`
      const { open } = require(${JSON.stringify(ROOT)});
      const { replicate } = require(${JSON.stringify(ROOT + '/dist/sync/index.js')});
      const store = open(process.argv[1], { changeLog: true });
      const rep = replicate(store, { peers: [{ url: process.argv[2] }], backoff: { initialMs: 10, maxMs: 50 } });
      let written = 0;
      onCommand(({ n }) => {
        (async () => {
          for (let i = 0; i < n; i++, written++) rep.transaction((t) => t.writeMessage({ path: 'msg/' + written, fields: { id: String(written) } })).catch(() => {});
          await store.flush();
          reply({ committed: store.lastChangeSeq(), acked: rep.status()[0].acked });
        })();
      });
      reply({ ready: true });
    `, [primaryDir, proxy.url])
    try {
      await child.next()
      const r1 = await child.send({ n: 100 })
      expect(r1.committed).toBe(100)
      const replicaView = open(replicaDir, { readOnly: true })
      await until('the first records to arrive', () => (replicaView.stat().replica?.appliedSeq ?? 0) > 0)
      replicaView.close()
      proxy.mode = 'down'
      const r2 = await child.send({ n: 200 })
      expect(r2.committed).toBe(300)
      child.proc.kill('SIGKILL')
      await new Promise((resolve) => child.proc.once('exit', resolve))
      proxy.mode = 'pass'
      const primary = open(primaryDir)
      const rep = replicate(primary, { peers: [{ url: proxy.url }], backoff: fast })
      try {
        await rep.synced(300, { timeout: 20_000 })
        const r = open(replicaDir, { readOnly: true })
        try {
          expect(r.stat().replica?.appliedSeq).toBe(300)
          expect(entries(r)).toEqual(entries(primary))
        } finally { r.close() }
      } finally {
        await rep.close()
        primary.close()
      }
    } finally {
      await child.close().catch(() => {})
      await proxy.close()
      await serve.kill()
    }
  }, 60_000)

  it('records over the peer limits go as numbered parts applied together; a peer without batches gets per-op messages', async () => {
    const primary = open(tmpDir('primary'), { changeLog: true })
    const aDir = tmpDir('parts')
    const bDir = tmpDir('perop')
    const a = await startServe(aDir, ['--max-message-bytes', '1024'])
    const b = await startServe(bDir, ['--no-batches'])
    const rep = replicate(primary, { peers: [{ url: a.url }, { url: b.url }], backoff: fast, maxMessageOps: 3 })
    try {
      await msg(rep, 'big', 5000, 10_000)
      for (let i = 0; i < 10; i++) await msg(rep, `m${i}`, 300, 10_000)
      for (const dir of [aDir, bDir]) {
        const r = open(dir, { readOnly: true })
        try {
          expect(r.stat().replica?.appliedSeq).toBe(11)
          expect(entries(r)).toEqual(entries(primary))
        } finally { r.close() }
      }
    } finally {
      await rep.close()
      await a.kill()
      await b.kill()
      primary.close()
    }
  }, 60_000)
})

describe('the replica endpoint refuses hostile input and writes nothing', () => {
  it('garbage, oversized, gapped, foreign, unauthenticated; redelivery is acked and skipped; off-loopback needs a token', async () => {
    const primary = open(tmpDir('primary'), { changeLog: true })
    const other = open(tmpDir('other'), { changeLog: true })
    const replica = open(tmpDir('replica'))
    const token = 'secret-token-123'
    const server = await serveReplica(replica, { token, maxMessageBytes: 4096 })
    const auth = { authorization: `Bearer ${token}` }
    try {
      for (let i = 0; i < 3; i++) primary.transactionSync((t) => t.write(`k${i}`, `v${i}`))
      other.transactionSync((t) => t.write('x', 'y'))
      const id = primary.stat().storeId!
      const wire = (store: Store, sid: string, seq: number): Buffer => encodeMessage(splitRecord(sid, seq, primaryRecord(store, seq), { maxMessageBytes: 1 << 20, maxMessageOps: 1000, batches: true })[0])
      const nothing = (): void => { expect(replica.stat().entries).toBe(0); expect(replica.stat().replica).toBeUndefined() }

      expect((await post(server.url, wire(primary, id, 1))).status).toBe(401)
      expect((await post(server.url, wire(primary, id, 1), { authorization: 'Bearer wrong-token-xx' })).status).toBe(401)
      expect((await post(server.url, 'garbage', auth)).status).toBe(400)
      const truncated = wire(primary, id, 1).subarray(0, 50)
      expect((await post(server.url, truncated, auth)).status).toBe(400)
      expect((await post(server.url, Buffer.alloc(5000), auth)).status).toBe(413)
      const gap = await post(server.url, wire(primary, id, 2), auth)
      expect(gap).toMatchObject({ status: 409, body: { error: 'GAP', expected: { seq: 1, part: 0 } } })
      nothing()

      expect(await post(server.url, wire(primary, id, 1), auth)).toMatchObject({ status: 200, body: { status: 'applied', appliedSeq: 1 } })
      expect(await post(server.url, wire(primary, id, 1), auth)).toMatchObject({ status: 200, body: { status: 'duplicate', appliedSeq: 1 } })
      const foreign = await post(server.url, wire(other, other.stat().storeId!, 1), auth)
      expect(foreign).toMatchObject({ status: 409, body: { error: 'FOREIGN_PRIMARY' } })
      // a valid header around a broken record
      const broken = wire(primary, id, 2); broken[broken.length - 1] ^= 0xff; broken.writeUInt32LE(99, 40 + 9)
      expect((await post(server.url, broken, auth)).status).toBe(400)
      expect(replica.stat().replica).toEqual({ primary: id, appliedSeq: 1 })
      expect(replica.keys()).toEqual(['k0'])
      // applyMessage, the transport-free entry point, says the same
      await expect(applyMessage(replica, wire(primary, id, 3))).rejects.toMatchObject({ code: 'GAP', expected: { seq: 2, part: 0 } })

      await expect(serveReplica(replica, { host: '0.0.0.0' })).rejects.toThrow(/requires a bearer token/)
    } finally {
      await server.close()
      primary.close(); other.close(); replica.close()
    }
  })
})

/** Frames for POST /v1/batch: [u32 BE length][message]… */
function frames (...messages: Buffer[]): Buffer {
  return Buffer.concat(messages.flatMap((m) => { const n = Buffer.alloc(4); n.writeUInt32BE(m.length); return [n, m] }))
}

/** An HTTP proxy in front of a replica that counts requests per route; `noBatch` hides the batch offer of hello (an older server). */
async function countingProxy (target: string, noBatch = false): Promise<{ url: string, counts: Record<string, number>, close: () => Promise<void> }> {
  const counts: Record<string, number> = {}
  const agent = new http.Agent({ keepAlive: true })
  const server = http.createServer((req, res) => {
    counts[req.url!] = (counts[req.url!] ?? 0) + 1
    const chunks: Buffer[] = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const up = http.request(target + req.url, { method: req.method, headers: req.headers, agent }, (r) => {
        const back: Buffer[] = []
        r.on('data', (c) => back.push(c))
        r.on('end', () => {
          let body = Buffer.concat(back)
          if (noBatch && req.url === '/v1/hello') {
            const hello = JSON.parse(body.toString())
            delete hello.batch
            body = Buffer.from(JSON.stringify(hello))
          }
          res.writeHead(r.statusCode!, { 'content-type': 'application/json', 'content-length': body.length })
          res.end(body)
        })
      })
      up.on('error', () => res.destroy())
      up.end(Buffer.concat(chunks))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as import('node:net').AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    close: async () => { server.closeAllConnections(); agent.destroy(); await new Promise<void>((resolve) => server.close(() => resolve())) }
  }
}

describe('HTTP batches: the messages of one turn travel in one request', () => {
  it('a batch is checked whole before anything is applied; each message gets its own result; hostile frames are refused', async () => {
    const primary = open(tmpDir('primary'), { changeLog: true })
    const replica = open(tmpDir('replica'))
    const server = await serveReplica(replica, { maxMessageBytes: 4096, maxBatchMessages: 3, holdMs: 100 })
    try {
      for (let i = 0; i < 5; i++) primary.transactionSync((t) => t.write(`k${i}`, `v${i}`))
      const id = primary.stat().storeId!
      const wire = (seq: number): Buffer => encodeMessage(splitRecord(id, seq, primaryRecord(primary, seq), { maxMessageBytes: 1 << 20, maxMessageOps: 1000, batches: true })[0])
      const batch = (body: Buffer): Promise<{ status: number, body: any }> => post(server.url, body, {}, '/v1/batch')
      const nothing = (): void => { expect(replica.stat().entries).toBe(0); expect(replica.stat().replica).toBeUndefined() }

      const hello = await new Promise<any>((resolve, reject) => http.get(server.url + '/v1/hello', (res) => { let t = ''; res.on('data', (c) => { t += c }); res.on('end', () => resolve(JSON.parse(t))) }).on('error', reject))
      expect(hello.batch).toEqual({ maxBytes: 64 * 1024 * 1024, maxMessages: 3 })
      // one bad frame anywhere refuses the whole body: the good ones before it are not applied
      const bad = wire(2); bad[0] = 0
      expect(await batch(frames(wire(1), bad))).toMatchObject({ status: 400, body: { error: 'RECORD_FORMAT' } })
      expect((await batch(Buffer.concat([frames(wire(1)), Buffer.from([0, 0])]))).status).toBe(400) // truncated length
      expect((await batch(frames(wire(1)).subarray(0, 30))).status).toBe(400) // truncated message
      const over = frames(wire(1)); over.writeUInt32BE(5000, 0)
      expect(await batch(over)).toMatchObject({ status: 413, body: { error: 'TOO_LARGE' } }) // a frame over maxMessageBytes
      expect((await batch(frames(wire(1), wire(2), wire(3), wire(4)))).status).toBe(400) // over maxBatchMessages
      expect((await batch(Buffer.alloc(0))).status).toBe(400)
      expect((await post(server.url, frames(wire(1)), { authorization: 'Bearer x' }, '/v1/nope')).status).toBe(404)
      nothing()

      // per-message results, in order: applied, duplicate, and a gap that undoes only itself
      const r = await batch(frames(wire(1), wire(2), wire(1)))
      expect(r.status).toBe(200)
      expect(r.body.results.map((x: any) => x.status)).toEqual(['applied', 'applied', 'duplicate'])
      const g = await batch(frames(wire(3), wire(5)))
      expect(g.status).toBe(200)
      expect(g.body.results[0]).toMatchObject({ status: 'applied', seq: 3, appliedSeq: 3 })
      expect(g.body.results[1]).toMatchObject({ httpStatus: 409, error: 'GAP', expected: { seq: 4, part: 0 } })
      expect(replica.stat().replica).toEqual({ primary: id, appliedSeq: 3 })
      expect(replica.keys()).toEqual(['k0', 'k1', 'k2'])
      await expect(serveReplica(replica, { maxBatchMessages: 0 })).rejects.toThrow(RangeError)
      await expect(serveReplica(replica, { maxMessageBytes: 4096, maxBatchBytes: 100 })).rejects.toThrow(RangeError)
    } finally {
      await server.close()
      primary.close(); replica.close()
    }
  })

  it('replicate() batches by default, sends one request per message when asked or when the replica offers no batches; the replica equals the primary each way', async () => {
    for (const [mode, peerOptions, noBatch] of [['batched', {}, false], ['one per request', { maxBatchMessages: 1 }, false], ['older replica', {}, true]] as const) {
      const primary = open(tmpDir('primary'), { changeLog: true })
      const replica = open(tmpDir('replica'))
      const server = await serveReplica(replica)
      const proxy = await countingProxy(server.url, noBatch)
      const rep = replicate(primary, { peers: [{ url: proxy.url, ...peerOptions }], backoff: fast })
      try {
        await Promise.all(Array.from({ length: 200 }, (_, i) => msg(rep, `${mode.length}-${i}`)))
        expect(entries(replica), mode).toEqual(entries(primary))
        expect(replica.stat().replica!.appliedSeq, mode).toBe(200)
        const batches = proxy.counts['/v1/batch'] ?? 0
        const singles = proxy.counts['/v1/records'] ?? 0
        if (mode === 'batched') {
          expect(batches, mode).toBeGreaterThan(0)
          expect(batches + singles, mode).toBeLessThan(100) // 200 messages in far fewer requests
        } else {
          expect(batches, mode).toBe(0)
          expect(singles, mode).toBeGreaterThanOrEqual(200)
        }
      } finally {
        await rep.close()
        await proxy.close()
        await server.close()
        primary.close(); replica.close()
      }
    }
  })
})
