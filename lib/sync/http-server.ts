/**
 * HTTP transport, replica side: `lmdb-txn serve <dir>` (SPEC §11.3).
 *
 *   GET  /v1/hello    → { version, storeId, replica, limits, batch } (JSON)
 *   POST /v1/records  → one wire message (lib/sync/wire.ts) → 200 { status, seq, part, appliedSeq }
 *   POST /v1/batch    → frames [u32 BE length][wire message]… → 200 { results: [...] },
 *                       one entry per message, in order (a result or a refusal)
 *
 * Listens on 127.0.0.1 unless told otherwise; any other address requires a
 * bearer token. Bodies are bounded (Content-Length checked first, the stream
 * counted too). Malformed, oversized, unauthenticated, gapped and foreign
 * input gets a 4xx and writes nothing. 200 is sent only once the message is
 * durable. Requests are stateless: concurrent POSTs may arrive out of order
 * on several connections, so a message ahead of the next expected one is
 * held briefly (bounded) for its predecessors before it is judged a gap.
 */
import * as http from 'node:http'
import * as crypto from 'node:crypto'
import type { AddressInfo } from 'node:net'
import type { Store } from '../store'
import { LmdbTxnError } from '../errors'
import { RecordFormatError, RECORD_HEAD_BYTES } from '../changes'
import { applyMessages, ForeignPrimaryError, GapError } from './apply'
import { decodeMessage, WIRE_HEADER_BYTES, type PeerLimits, type WireMessage } from './wire'

export interface ServeOptions {
  /** Default 0 (any free port). */
  port?: number
  /** Default 127.0.0.1. Anything but loopback requires `token`. */
  host?: string
  /** Required bearer token (recommended everywhere; required off loopback). */
  token?: string
  /** Largest message accepted, header included. Default 16 MiB. */
  maxMessageBytes?: number
  /** Most ops per message. Default 100,000. */
  maxMessageOps?: number
  /** false: ask primaries for per-op messages. Default true. */
  batches?: boolean
  /** How long a message ahead of the expected one waits for its predecessors. Default 2,000 ms. */
  holdMs?: number
  /** Largest POST /v1/batch body. Default 64 MiB (at least maxMessageBytes + 4). */
  maxBatchBytes?: number
  /** Most messages in one POST /v1/batch. Default 1,024. */
  maxBatchMessages?: number
}

export interface ReplicaServer {
  readonly port: number
  readonly host: string
  readonly url: string
  close (): Promise<void>
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])
const MAX_HELD = 4096
/** Bytes of messages applied in one transaction at most. */
const MAX_BATCH_BYTES = 64 * 1024 * 1024

interface Key { seq: number, part: number }
const before = (a: Key, b: Key): boolean => a.seq < b.seq || (a.seq === b.seq && a.part < b.part)
const same = (a: Key, b: Key): boolean => a.seq === b.seq && a.part === b.part

export async function serveReplica (store: Store, options: ServeOptions = {}): Promise<ReplicaServer> {
  const host = options.host ?? '127.0.0.1'
  const token = options.token
  if (token !== undefined && (typeof token !== 'string' || token.length < 8)) throw new TypeError('token must be a string of at least 8 characters')
  if (!LOOPBACK.has(host) && token === undefined) {
    throw new TypeError(`serving on ${host} (not loopback) requires a bearer token (--token or LMDB_TXN_TOKEN)`)
  }
  const limits: PeerLimits = {
    maxMessageBytes: options.maxMessageBytes ?? 16 * 1024 * 1024,
    maxMessageOps: options.maxMessageOps ?? 100_000,
    batches: options.batches ?? true
  }
  if (!Number.isInteger(limits.maxMessageBytes) || limits.maxMessageBytes <= WIRE_HEADER_BYTES + RECORD_HEAD_BYTES) throw new RangeError('maxMessageBytes is too small')
  if (!Number.isInteger(limits.maxMessageOps) || limits.maxMessageOps < 1) throw new RangeError('maxMessageOps must be a positive integer')
  const holdMs = options.holdMs ?? 2000
  const batchLimits = {
    maxBytes: options.maxBatchBytes ?? Math.max(MAX_BATCH_BYTES, limits.maxMessageBytes + 4),
    maxMessages: options.maxBatchMessages ?? 1024
  }
  if (!Number.isInteger(batchLimits.maxBytes) || batchLimits.maxBytes < limits.maxMessageBytes + 4) throw new RangeError('maxBatchBytes must be an integer of at least maxMessageBytes + 4')
  if (!Number.isInteger(batchLimits.maxMessages) || batchLimits.maxMessages < 1 || batchLimits.maxMessages > MAX_HELD) throw new RangeError(`maxBatchMessages must be an integer 1..${MAX_HELD}`)
  const tokenHash = token === undefined ? undefined : crypto.createHash('sha256').update(token).digest()

  // In-order dispatch: store.transaction() applies callbacks in call order,
  // so dispatching in (seq, part) order is enough; `next` is only a hint
  // (the checks inside the transaction decide).
  let next: Key | undefined
  const held: Array<{ m: WireMessage, go: () => void, timer: NodeJS.Timeout }> = []
  const successor = (m: WireMessage): Key => m.part + 1 < m.parts ? { seq: m.seq, part: m.part + 1 } : { seq: m.seq + 1, part: 0 }
  // Dispatches `m` (next expected, or released late) and then every held
  // message that has become the next one.
  const release = (m: WireMessage, go: () => void): void => {
    if (next === undefined || !before(successor(m), next)) next = successor(m)
    go()
    for (;;) {
      const i = held.findIndex((h) => same(h.m, next!))
      if (i < 0) return
      const [h] = held.splice(i, 1)
      clearTimeout(h.timer)
      next = successor(h.m)
      h.go()
    }
  }
  // Messages dispatched in one turn are applied together: one write
  // transaction and one fsync for all of them, each in its own savepoint.
  let batch: Array<{ m: WireMessage, resolve: (r: unknown) => void, reject: (e: unknown) => void }> = []
  let batchBytes = 0
  const flush = (): void => {
    const todo = batch
    batch = []
    batchBytes = 0
    let results
    try {
      results = applyMessages(store, todo.map((t) => t.m))
    } catch (err) {
      for (const t of todo) t.reject(err)
      return
    }
    results.forEach((r, i) => r.ok ? todo[i].resolve(r.result) : todo[i].reject(r.error))
  }
  const apply = (m: WireMessage): Promise<unknown> => new Promise((resolve, reject) => {
    if (batch.length === 0) setImmediate(flush)
    batch.push({ m, resolve, reject })
    batchBytes += m.payload.length
    if (batchBytes > MAX_BATCH_BYTES) flush()
  })
  const dispatch = (m: WireMessage): Promise<unknown> => {
    if (next === undefined) {
      const applied = store.stat().replica?.appliedSeq ?? 0
      next = { seq: applied + 1, part: 0 }
    }
    return new Promise((resolve, reject) => {
      const go = (): void => { apply(m).then(resolve, reject) }
      if (!before(next!, m)) return same(next!, m) ? release(m, go) : go()
      if (held.length >= MAX_HELD) return reject(Object.assign(new Error('too many messages held out of order'), { status: 503 }))
      const timer = setTimeout(() => {
        const i = held.findIndex((h) => h.go === go)
        if (i >= 0) held.splice(i, 1)
        release(m, go) // judged inside the transaction: most likely a gap
      }, holdMs)
      held.push({ m, go, timer })
    })
  }

  const send = (res: http.ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body)
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    res.end(text)
  }
  const authorized = (req: http.IncomingMessage): boolean => {
    if (tokenHash === undefined) return true
    const h = req.headers.authorization
    if (typeof h !== 'string' || !h.startsWith('Bearer ')) return false
    return crypto.timingSafeEqual(crypto.createHash('sha256').update(h.slice(7)).digest(), tokenHash)
  }
  const hello = (): unknown => ({
    version: 1,
    storeId: store.stat().storeId,
    replica: store.stat().replica ?? null,
    limits,
    batch: batchLimits
  })

  // A refusal's HTTP status and JSON body (also used per message in a batch reply).
  const refusal = (err: any): { status: number, body: Record<string, unknown> } => {
    const body = (error: string, extra: object = {}): Record<string, unknown> => ({ error, message: err?.message ?? String(err), ...extra })
    if (err instanceof GapError) return { status: 409, body: body('GAP', { expected: err.expected }) }
    if (err instanceof ForeignPrimaryError) return { status: 409, body: body('FOREIGN_PRIMARY', { primary: err.primary }) }
    if (err instanceof RecordFormatError) return { status: 400, body: body('RECORD_FORMAT') }
    if (err instanceof LmdbTxnError && ['INVALID_PATH', 'KEY_TOO_LONG', 'TRANSACTION_TOO_LARGE'].includes(err.code)) return { status: 400, body: body(err.code) }
    if (err?.status === 503) return { status: 503, body: body('BUSY') }
    return { status: 500, body: body(err?.code ?? 'INTERNAL') }
  }
  // Checked before dispatch, so a refused message (or any refused message
  // of a batch) writes nothing.
  const decodeChecked = (bytes: Buffer): WireMessage => {
    const m = decodeMessage(bytes)
    if (m.parts === 1 && !m.perOp && m.payload.length >= RECORD_HEAD_BYTES && Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength).readUInt32LE(9) > limits.maxMessageOps) {
      throw Object.assign(new RecordFormatError(`over maxMessageOps = ${limits.maxMessageOps}`), { tooMany: true })
    }
    return m
  }
  // A batch body: every frame is decoded and checked before any is dispatched.
  const decodeFrames = (body: Buffer): WireMessage[] => {
    const out: WireMessage[] = []
    let at = 0
    while (at < body.length) {
      if (out.length === batchLimits.maxMessages) throw new RecordFormatError(`more than ${batchLimits.maxMessages} messages in one batch`)
      if (at + 4 > body.length) throw new RecordFormatError(`truncated frame length at byte ${at}`)
      const n = body.readUInt32BE(at)
      at += 4
      if (n > limits.maxMessageBytes) throw Object.assign(new RecordFormatError(`message ${out.length} of ${n} bytes is over ${limits.maxMessageBytes}`), { tooLarge: true })
      if (at + n > body.length) throw new RecordFormatError(`message ${out.length} is truncated`)
      out.push(decodeChecked(body.subarray(at, at + n)))
      at += n
    }
    if (out.length === 0) throw new RecordFormatError('empty batch')
    return out
  }

  const server = http.createServer((req, res) => {
    const refuse = (status: number, error: string, message: string, extra: object = {}): void => {
      send(res, status, { error, message, ...extra })
      req.resume() // drain what is left of a refused body
    }
    if (!authorized(req)) return refuse(401, 'UNAUTHORIZED', 'a valid bearer token is required')
    const url = req.url ?? ''
    if (url === '/v1/hello') {
      if (req.method !== 'GET') return refuse(405, 'METHOD', 'use GET')
      return send(res, 200, hello())
    }
    if (url !== '/v1/records' && url !== '/v1/batch') return refuse(404, 'NOT_FOUND', `no ${url}`)
    const isBatch = url === '/v1/batch'
    if (req.method !== 'POST') return refuse(405, 'METHOD', 'use POST')
    const declared = Number(req.headers['content-length'])
    const maxBody = isBatch ? batchLimits.maxBytes : limits.maxMessageBytes
    if (!Number.isFinite(declared)) return refuse(411, 'LENGTH_REQUIRED', 'Content-Length is required')
    if (declared > maxBody) return refuse(413, 'TOO_LARGE', `${isBatch ? 'batch' : 'message'} of ${declared} bytes is over ${maxBody}`)
    const chunks: Buffer[] = []
    let size = 0
    let failed = false
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > declared && !failed) { failed = true; refuse(400, 'BAD_LENGTH', 'body longer than Content-Length') ; req.destroy() }
      else if (!failed) chunks.push(c)
    })
    req.on('error', () => { failed = true })
    req.on('end', () => {
      if (failed) return
      if (size !== declared) return refuse(400, 'BAD_LENGTH', 'body shorter than Content-Length')
      const body = Buffer.concat(chunks, size)
      let messages: WireMessage[]
      try {
        messages = isBatch ? decodeFrames(body) : [decodeChecked(body)]
      } catch (err: any) {
        if (err?.tooMany === true) return refuse(413, 'TOO_MANY_OPS', err.message)
        if (err?.tooLarge === true) return refuse(413, 'TOO_LARGE', err.message)
        return refuse(400, 'RECORD_FORMAT', (err as Error).message)
      }
      if (!isBatch) {
        dispatch(messages[0]).then((result) => send(res, 200, result), (err) => {
          const r = refusal(err) // the body was read whole: nothing to drain
          send(res, r.status, r.body)
        })
        return
      }
      // In order: each message is dispatched (and so applied) after the one
      // before it; one turn's messages share a transaction (see apply).
      Promise.allSettled(messages.map(dispatch)).then((settled) => {
        send(res, 200, { results: settled.map((s) => { if (s.status === 'fulfilled') return s.value; const r = refusal(s.reason); return { httpStatus: r.status, ...r.body } }) })
      })
    })
  })
  server.requestTimeout = 60_000
  server.headersTimeout = 10_000
  server.keepAliveTimeout = 30_000
  server.maxHeadersCount = 50
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => { server.off('error', reject); resolve() })
  })
  const address = server.address() as AddressInfo
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    port: address.port,
    host: address.address,
    url: `http://${shown}:${address.port}`,
    async close () {
      for (const h of held.splice(0)) { clearTimeout(h.timer); h.go() }
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
