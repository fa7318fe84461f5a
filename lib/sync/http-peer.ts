/**
 * HTTP transport, primary side: a Peer that talks to `lmdb-txn serve`
 * (lib/sync/http-server.ts). GET /v1/hello, then one POST /v1/records per
 * wire message on keep-alive connections; any request may be retried on a
 * new connection (the replica is idempotent per seq and part).
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
    return { limits, appliedSeq, window: this.#window }
  }

  async send (message: Buffer, at: { seq: number, part: number }, signal: AbortSignal): Promise<void> {
    const r = await this.#request('POST', '/v1/records', message, signal)
    if (r.status !== 200) throw this.#error(r, `seq ${at.seq} part ${at.part}`)
  }

  async close (): Promise<void> {
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
