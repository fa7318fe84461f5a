/**
 * HTTP transport, replica side: `lmdb-txn serve <dir>` (SPEC §11.3).
 *
 *   GET  /v1/hello    → { version, storeId, replica, limits } (JSON)
 *   POST /v1/records  → one wire message (lib/sync/wire.ts) → 200 { status, seq, part, appliedSeq }
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
import { applyMessage, ForeignPrimaryError, GapError } from './apply'
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
}

export interface ReplicaServer {
  readonly port: number
  readonly host: string
  readonly url: string
  close (): Promise<void>
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])
const MAX_HELD = 4096

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
  const dispatch = (m: WireMessage): Promise<unknown> => {
    if (next === undefined) {
      const applied = store.stat().replica?.appliedSeq ?? 0
      next = { seq: applied + 1, part: 0 }
    }
    return new Promise((resolve, reject) => {
      const go = (): void => { applyMessage(store, m).then(resolve, reject) }
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
    limits
  })

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
    if (url !== '/v1/records') return refuse(404, 'NOT_FOUND', `no ${url}`)
    if (req.method !== 'POST') return refuse(405, 'METHOD', 'use POST')
    const declared = Number(req.headers['content-length'])
    if (!Number.isFinite(declared)) return refuse(411, 'LENGTH_REQUIRED', 'Content-Length is required')
    if (declared > limits.maxMessageBytes) return refuse(413, 'TOO_LARGE', `message of ${declared} bytes is over ${limits.maxMessageBytes}`)
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
      let m: WireMessage
      try {
        m = decodeMessage(Buffer.concat(chunks, size))
        if (m.parts === 1 && !m.perOp && m.payload.length >= RECORD_HEAD_BYTES && Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength).readUInt32LE(9) > limits.maxMessageOps) {
          return refuse(413, 'TOO_MANY_OPS', `over maxMessageOps = ${limits.maxMessageOps}`)
        }
      } catch (err) {
        return refuse(400, 'RECORD_FORMAT', (err as Error).message)
      }
      dispatch(m).then(
        (result) => send(res, 200, result),
        (err: any) => {
          if (err instanceof GapError) refuse(409, 'GAP', err.message, { expected: err.expected })
          else if (err instanceof ForeignPrimaryError) refuse(409, 'FOREIGN_PRIMARY', err.message, { primary: err.primary })
          else if (err instanceof RecordFormatError || (err instanceof LmdbTxnError && ['INVALID_PATH', 'KEY_TOO_LONG', 'TRANSACTION_TOO_LARGE'].includes(err.code))) {
            refuse(400, err.code, err.message)
          } else if (err?.status === 503) refuse(503, 'BUSY', err.message)
          else refuse(500, err?.code ?? 'INTERNAL', err?.message ?? String(err))
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
