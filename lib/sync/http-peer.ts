/**
 * HTTP transport, primary side: a Peer that talks to `lmdb-txn serve`
 * (lib/sync/http-server.ts). GET /v1/hello, then the wire messages on
 * keep-alive connections: the messages sent in one event-loop turn go
 * together in one POST /v1/batch (a request per message costs more than the
 * replica's apply), one POST /v1/records each for a server that offers no
 * batches. Any request may be retried on a new connection (the replica is
 * idempotent per seq and part).
 */
import * as http from 'node:http'
import type { Peer, PeerHello } from './peer'
import { PeerError } from './peer'

export interface HttpPeerOptions {
  /** Base URL of the replica endpoint, e.g. http://127.0.0.1:7070 */
  url: string
  /** Bearer token (the endpoint requires one off loopback). */
  token?: string
  /** Messages in flight at once on separate connections. Default 64. */
  window?: number
  /** A request slower than this fails (and is retried). Default 30,000 ms. */
  requestTimeoutMs?: number
  /**
   * Messages sent together in one request at most (the replica's hello may
   * lower it). Default 256; 1 sends one request per message.
   */
  maxBatchMessages?: number
}

/** AbortSignal.any, which Node 20.0–20.2 lack. */
function anySignal (signals: AbortSignal[]): AbortSignal {
  const c = new AbortController()
  for (const s of signals) {
    if (s.aborted) { c.abort(s.reason); break }
    s.addEventListener('abort', () => c.abort(s.reason), { once: true, signal: c.signal })
  }
  return c.signal
}

interface Queued {
  message: Buffer
  at: { seq: number, part: number }
  signal: AbortSignal
  resolve: () => void
  reject: (err: unknown) => void
}

const MAX_RESPONSE_BYTES = 1 << 20

interface Reply { status: number, body: any }

export class HttpPeer implements Peer {
  readonly id: string
  readonly #url: URL
  readonly #storeId: string
  readonly #token: string | undefined
  readonly #window: number
  readonly #timeoutMs: number
  readonly #agent: http.Agent
  readonly #maxBatchMessages: number
  /** What the replica's last hello allowed; undefined: one message per request. */
  #batch: { maxBytes: number, maxMessages: number } | undefined
  #queued: Queued[] = []
  #queuedBytes = 0
  #flushScheduled = false

  constructor (storeId: string, options: HttpPeerOptions) {
    let url: URL
    try {
      url = new URL(options.url)
    } catch {
      throw new TypeError(`peer url ${JSON.stringify(options.url)} is not a URL`)
    }
    if (url.protocol !== 'http:') throw new TypeError(`peer url ${options.url}: only http: is supported (put TLS in front with a proxy)`)
    if (options.token !== undefined && typeof options.token !== 'string') throw new TypeError('peer token must be a string')
    this.#url = url
    this.id = url.origin + url.pathname.replace(/\/+$/, '')
    this.#storeId = storeId
    this.#token = options.token
    this.#window = options.window ?? 64
    if (!Number.isInteger(this.#window) || this.#window < 1 || this.#window > 1024) throw new RangeError('peer window must be an integer 1..1024')
    this.#timeoutMs = options.requestTimeoutMs ?? 30_000
    this.#maxBatchMessages = options.maxBatchMessages ?? 256
    if (!Number.isInteger(this.#maxBatchMessages) || this.#maxBatchMessages < 1 || this.#maxBatchMessages > 4096) throw new RangeError('peer maxBatchMessages must be an integer 1..4096')
    this.#agent = new http.Agent({ keepAlive: true, maxSockets: this.#window })
  }

  async hello (signal: AbortSignal): Promise<PeerHello> {
    const r = await this.#request('GET', '/v1/hello', undefined, signal)
    if (r.status !== 200) throw this.#error(r, 'hello')
    const b = r.body
    const limits = b?.limits
    if (typeof limits?.maxMessageBytes !== 'number' || typeof limits?.maxMessageOps !== 'number' || typeof limits?.batches !== 'boolean') {
      throw new PeerError(`${this.id}: hello without valid limits`, 'BAD_HELLO')
    }
    const replica = b.replica
    let appliedSeq = 0
    if (replica != null) {
      if (replica.primary !== this.#storeId) {
        throw new PeerError(`${this.id} replicates primary store ${String(replica.primary)}, not ${this.#storeId}`, 'FOREIGN_PRIMARY')
      }
      appliedSeq = Number(replica.appliedSeq)
    }
    const batch = b.batch
    this.#batch = this.#maxBatchMessages > 1 && Number.isInteger(batch?.maxBytes) && Number.isInteger(batch?.maxMessages) && batch.maxMessages > 1
      ? { maxBytes: batch.maxBytes, maxMessages: Math.min(batch.maxMessages, this.#maxBatchMessages) }
      : undefined
    return { limits, appliedSeq, window: this.#window }
  }

  send (message: Buffer, at: { seq: number, part: number }, signal: AbortSignal): Promise<void> {
    const batch = this.#batch
    if (batch === undefined || message.length + 4 > batch.maxBytes) return this.#sendOne(message, at, signal)
    return new Promise((resolve, reject) => {
      if (this.#queuedBytes + message.length + 4 > batch.maxBytes) this.#flush()
      this.#queued.push({ message, at, signal, resolve, reject })
      this.#queuedBytes += message.length + 4
      if (this.#queued.length >= batch.maxMessages) this.#flush()
      else if (!this.#flushScheduled) {
        this.#flushScheduled = true
        setImmediate(() => { this.#flushScheduled = false; this.#flush() })
      }
    })
  }

  async #sendOne (message: Buffer, at: { seq: number, part: number }, signal: AbortSignal): Promise<void> {
    const r = await this.#request('POST', '/v1/records', message, signal)
    if (r.status !== 200) throw this.#error(r, `seq ${at.seq} part ${at.part}`)
  }

  /** Sends what is queued as one POST /v1/batch; each message settles by its own entry of the reply. */
  #flush (): void {
    const todo = this.#queued
    if (todo.length === 0) return
    this.#queued = []
    this.#queuedBytes = 0
    if (todo.length === 1) {
      const q = todo[0]
      this.#sendOne(q.message, q.at, q.signal).then(q.resolve, q.reject)
      return
    }
    const body = Buffer.allocUnsafe(todo.reduce((n, q) => n + 4 + q.message.length, 0))
    let at = 0
    for (const q of todo) {
      body.writeUInt32BE(q.message.length, at)
      q.message.copy(body, at + 4)
      at += 4 + q.message.length
    }
    const signals = [...new Set(todo.map((q) => q.signal))]
    const signal = signals.length === 1 ? signals[0] : anySignal(signals)
    const what = `seq ${todo[0].at.seq}..${todo[todo.length - 1].at.seq}`
    this.#request('POST', '/v1/batch', body, signal).then((r) => {
      const results = r.body?.results
      if (r.status !== 200 || !Array.isArray(results) || results.length !== todo.length) {
        const err = r.status === 200 ? new PeerError(`${this.id}: batch reply without ${todo.length} results`, 'BAD_RESPONSE') : this.#error(r, what)
        for (const q of todo) q.reject(err)
        return
      }
      todo.forEach((q, i) => {
        const x = results[i]
        if (x !== null && typeof x === 'object' && typeof x.error !== 'string' && typeof x.status === 'string') q.resolve()
        else q.reject(this.#error({ status: Number(x?.httpStatus) || 500, body: x }, `seq ${q.at.seq} part ${q.at.part}`))
      })
    }, (err) => { for (const q of todo) q.reject(err) })
  }

  async close (): Promise<void> {
    for (const q of this.#queued.splice(0)) q.reject(new PeerError(`${this.id}: closed`, 'CLOSED'))
    this.#queuedBytes = 0
    this.#agent.destroy()
  }

  #error (r: Reply, what: string): PeerError {
    const code = typeof r.body?.error === 'string' ? r.body.error : r.status >= 500 ? 'SERVER_ERROR' : 'REFUSED'
    const message = typeof r.body?.message === 'string' ? r.body.message : `HTTP ${r.status}`
    return new PeerError(`${this.id} refused ${what}: ${message}`, code, { status: r.status, expected: r.body?.expected })
  }

  #request (method: string, path: string, body: Buffer | undefined, signal: AbortSignal): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { accept: 'application/json' }
      if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`
      if (body !== undefined) {
        headers['content-type'] = 'application/octet-stream'
        headers['content-length'] = body.length
      }
      const base = this.#url.pathname.replace(/\/+$/, '')
      const req = http.request({
        host: this.#url.hostname.replace(/^\[|\]$/g, ''),
        port: this.#url.port || 80,
        path: base + path,
        method,
        headers,
        agent: this.#agent,
        signal,
        timeout: this.#timeoutMs
      }, (res) => {
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (c: Buffer) => {
          size += c.length
          if (size > MAX_RESPONSE_BYTES) { req.destroy(new PeerError(`${this.id}: response over ${MAX_RESPONSE_BYTES} bytes`, 'BAD_RESPONSE')); return }
          chunks.push(c)
        })
        res.on('end', () => {
          let parsed: any
          try { parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) } catch { parsed = undefined }
          resolve({ status: res.statusCode ?? 0, body: parsed })
        })
        res.on('error', reject)
      })
      req.on('timeout', () => req.destroy(new PeerError(`${this.id}: no answer within ${this.#timeoutMs} ms`, 'TIMEOUT')))
      req.on('error', (err) => reject(err instanceof PeerError ? err : new PeerError(`${this.id}: ${err.message}`, 'NETWORK', { cause: err })))
      req.end(body)
    })
  }
}
