/**
 * replicate(store, options) — the primary side of SPEC §11.2.
 *
 * One PeerLink per peer, each independent (a dead peer stalls no other):
 * hello → stream records from the change log in seq order, each record as
 * one message (or numbered parts / per-op messages as the peer's limits
 * require), up to the peer's window in flight; a record counts as acked
 * when all its messages and every earlier record are acked. Any failure
 * aborts what is in flight, waits per the backoff policy and starts again
 * from the last ack (go-back-N: the replica skips what it already has).
 * Acks move the peer's cursor, kept in the primary's LMDB (CursorStore).
 */
import { setMaxListeners } from 'node:events'
import type { Store } from '../store'
import type { Transaction } from '../transaction'
import { waitForCommit } from '../changes'
import { kRawChanges, kTransactionSeq } from '../internal'
import { exponentialBackoff, type BackoffOptions, type BackoffPolicy } from './backoff'
import { CursorStore } from './cursors'
import { HttpPeer, type HttpPeerOptions } from './http-peer'
import type { Peer } from './peer'
import { encodeMessage, splitRecord, type PeerLimits } from './wire'
import { ReplicationClosedError, SyncTimeoutError } from './errors'

export interface PeerContext { store: Store, storeId: string }
/** Another transport's peer description, turned into a Peer by a registered factory. */
export type PeerSpec = HttpPeerOptions | Peer | Record<string, unknown>

export interface ReplicateOptions {
  peers: PeerSpec[]
  /** Exponential with jitter, forever; or any policy object. */
  backoff?: BackoffOptions | BackoffPolicy
  /** Upper bounds for every peer (a peer's own hello limits may be lower). */
  maxMessageBytes?: number
  maxMessageOps?: number
}

export interface PeerStatus {
  id: string
  /** Highest seq the peer acknowledged (all before it too). */
  acked: number
  /** Records committed here and not yet acknowledged. */
  pending: number
  /** Waiting to retry after a failure. */
  retrying: boolean
  lastError: string | undefined
  /** When the next attempt starts (epoch ms), while retrying. */
  nextAttemptAt: number | undefined
}

const transports: Array<{ matches: (spec: Record<string, unknown>) => boolean, create: (spec: any, ctx: PeerContext) => Peer }> = []

/** Lets another transport (e.g. JetStream) turn its peer specs into Peers. */
export function registerTransport (matches: (spec: Record<string, unknown>) => boolean, create: (spec: any, ctx: PeerContext) => Peer): void {
  transports.push({ matches, create })
}

function toPeer (spec: PeerSpec, ctx: PeerContext): Peer {
  if (spec !== null && typeof spec === 'object' && typeof (spec as Peer).hello === 'function' && typeof (spec as Peer).send === 'function') return spec as Peer
  if (spec !== null && typeof spec === 'object' && typeof (spec as HttpPeerOptions).url === 'string') return new HttpPeer(ctx.storeId, spec as HttpPeerOptions)
  const t = transports.find((x) => x.matches(spec as Record<string, unknown>))
  if (t === undefined) throw new TypeError(`peer ${JSON.stringify(spec)} is not { url } nor a Peer, and no registered transport takes it`)
  return t.create(spec, ctx)
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> => new Promise((resolve) => {
  if (signal.aborted) return resolve()
  const t = setTimeout(done, ms)
  function done (): void { clearTimeout(t); signal.removeEventListener('abort', done); resolve() }
  signal.addEventListener('abort', done, { once: true })
})

interface Outgoing { seq: number, part: number, parts: number, bytes: Buffer, last: boolean, done: boolean }

class PeerLink {
  readonly peer: Peer
  acked: number
  retrying = false
  lastError: string | undefined
  nextAttemptAt: number | undefined
  readonly #rep: Replication
  #attempts = 0
  #stream: AbortController | undefined
  readonly running: Promise<void>

  constructor (peer: Peer, rep: Replication, acked: number) {
    this.peer = peer
    this.#rep = rep
    this.acked = acked
    this.running = this.#run()
  }

  abort (): void { this.#stream?.abort() }

  async #run (): Promise<void> {
    const closed = this.#rep.closedSignal
    while (!closed.aborted) {
      const stream = this.#stream = new AbortController()
      setMaxListeners(0, stream.signal) // one per message in flight
      const stop = (): void => stream.abort()
      closed.addEventListener('abort', stop, { once: true })
      try {
        const hello = await this.peer.hello(stream.signal)
        if (hello.appliedSeq !== undefined) this.#ack(hello.appliedSeq, true)
        await this.#pump(this.#rep.limitsFor(hello.limits), hello.window ?? 1, stream.signal)
      } catch (err) {
        if (closed.aborted) break
        this.lastError = (err as Error)?.message ?? String(err)
        this.retrying = true
        const delay = this.#rep.backoff.delay(++this.#attempts)
        this.nextAttemptAt = Date.now() + delay
        await sleep(delay, closed)
        this.nextAttemptAt = undefined
      } finally {
        closed.removeEventListener('abort', stop)
      }
    }
  }

  #ack (seq: number, fromHello = false): void {
    // The replica's own word (hello) may move the cursor back: it was rebuilt.
    if (seq === this.acked || (!fromHello && seq < this.acked)) return
    this.acked = seq
    this.#rep.onAck(this)
  }

  async #pump (limits: PeerLimits, window: number, signal: AbortSignal): Promise<void> {
    const store = this.#rep.store
    const storeId = this.#rep.storeId
    const queue: Outgoing[] = [] // sent or to send, in order
    let sent = 0 // queue[0..sent) are in flight or done
    let nextSeq = this.acked + 1
    let failure: unknown
    let wake: (() => void) | undefined
    const inflight = new Set<Promise<void>>()
    while (!signal.aborted) {
      // fill the queue from the log
      if (queue.length - sent < window) {
        const records = store[kRawChanges](nextSeq - 1, 64)
        if (records.length > 0 && records[0].seq !== nextSeq) {
          throw new Error(`record ${nextSeq} is no longer in the change log (trimmed before ${this.peer.id} acknowledged it)`)
        }
        for (const c of records) {
          const msgs = splitRecord(storeId, c.seq, c.record, limits)
          msgs.forEach((m, i) => queue.push({ seq: m.seq, part: m.part, parts: m.parts, bytes: encodeMessage(m), last: i === msgs.length - 1, done: false }))
          nextSeq = c.seq + 1
        }
      }
      // send up to the window; nothing new after a failure (a log peer such
      // as JetStream would store the next record after a lost one)
      while (failure === undefined && sent < queue.length && inflight.size < window) {
        const o = queue[sent++]
        const p: Promise<void> = this.peer.send(o.bytes, o, signal).then(() => {
          o.done = true
        }, (err) => {
          failure ??= err
        }).finally(() => { inflight.delete(p); wake?.() })
        inflight.add(p)
      }
      if (failure !== undefined) throw failure
      // acks: the done prefix of the queue
      let advanced = false
      while (queue.length > 0 && queue[0].done) {
        const o = queue.shift()!
        sent--
        if (o.last) { this.#ack(o.seq); advanced = true }
      }
      if (advanced && this.retrying) {
        this.retrying = false
        this.lastError = undefined
        this.#attempts = 0
      }
      if (inflight.size > 0) {
        await new Promise<void>((resolve) => { wake = resolve })
        wake = undefined
        continue
      }
      if (queue.length === 0 && store.lastChangeSeq() < nextSeq) {
        await waitForCommit(store.path, signal)
      }
    }
    if (failure !== undefined) throw failure
    throw new ReplicationClosedError('replication closed')
  }
}

export class Replication {
  readonly store: Store
  readonly storeId: string
  readonly backoff: BackoffPolicy
  readonly #links: PeerLink[] = []
  readonly #cursors: CursorStore
  readonly #closing = new AbortController()
  readonly #limits: { maxMessageBytes: number, maxMessageOps: number }
  #waiters: Array<{ seq: number, resolve: () => void }> = []
  #closed: Promise<void> | undefined

  constructor (store: Store, options: ReplicateOptions) {
    if (options === null || typeof options !== 'object' || !Array.isArray(options.peers)) throw new TypeError('replicate(store, { peers: [...] }): peers must be an array')
    const info = store.stat()
    if (info.changeLog === undefined) throw new TypeError('replicate() needs a store opened with { changeLog: true }')
    this.store = store
    this.storeId = info.storeId!
    const b = options.backoff
    this.backoff = b !== undefined && typeof (b as BackoffPolicy).delay === 'function' ? b as BackoffPolicy : exponentialBackoff(b as BackoffOptions | undefined)
    this.#limits = {
      maxMessageBytes: options.maxMessageBytes ?? Number.MAX_SAFE_INTEGER,
      maxMessageOps: options.maxMessageOps ?? Number.MAX_SAFE_INTEGER
    }
    this.#cursors = new CursorStore(store)
    const peers = options.peers.map((spec) => toPeer(spec, { store, storeId: this.storeId }))
    const ids = new Set<string>()
    for (const p of peers) {
      if (ids.has(p.id)) throw new TypeError(`peer ${p.id} is listed twice`)
      ids.add(p.id)
    }
    for (const p of peers) this.#links.push(new PeerLink(p, this, this.#cursors.load(p.id)))
  }

  /** @internal */
  get closedSignal (): AbortSignal { return this.#closing.signal }

  /** @internal */
  limitsFor (peer: PeerLimits): PeerLimits {
    return {
      maxMessageBytes: Math.min(peer.maxMessageBytes, this.#limits.maxMessageBytes),
      maxMessageOps: Math.min(peer.maxMessageOps, this.#limits.maxMessageOps),
      batches: peer.batches
    }
  }

  /** @internal */
  onAck (link: PeerLink): void {
    this.#cursors.save(link.peer.id, link.acked)
    const floor = this.#ackedByAll()
    const ready = this.#waiters.filter((w) => w.seq <= floor)
    if (ready.length === 0) return
    this.#waiters = this.#waiters.filter((w) => w.seq > floor)
    for (const w of ready) w.resolve()
  }

  #ackedByAll (): number {
    return this.#links.reduce((min, l) => Math.min(min, l.acked), Infinity)
  }

  /**
   * store.transaction(fn), then waits until every peer acknowledged its
   * record. A timeout rejects with SyncTimeoutError; the write stays
   * committed here and delivery goes on.
   */
  async transaction<T> (fn: (txn: Transaction) => T, options: { timeout?: number } = {}): Promise<T> {
    const { value, seq } = await this.store[kTransactionSeq](fn)
    if (seq !== undefined) await this.synced(seq, options)
    return value
  }

  /** Resolves once every peer acknowledged everything up to `seq`. */
  synced (seq: number, options: { timeout?: number } = {}): Promise<void> {
    if (!Number.isSafeInteger(seq) || seq < 0) return Promise.reject(new RangeError(`seq must be a non-negative integer, got ${String(seq)}`))
    const timeout = options.timeout
    if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout >= 0))) return Promise.reject(new RangeError('timeout must be a non-negative number of ms'))
    if (this.#ackedByAll() >= seq) return Promise.resolve()
    if (this.#closing.signal.aborted) return Promise.reject(new ReplicationClosedError('replication is closed'))
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      const waiter = { seq, resolve: () => { clearTimeout(timer); resolve() }, reject }
      this.#waiters.push(waiter as any)
      if (timeout !== undefined) {
        timer = setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter)
          reject(new SyncTimeoutError(seq, this.#links.filter((l) => l.acked < seq).map((l) => l.peer.id), timeout))
        }, timeout)
      }
      ;(waiter as any).cancel = (err: Error) => { clearTimeout(timer); reject(err) }
    })
  }

  status (): PeerStatus[] {
    const last = this.store.active ? this.store.lastChangeSeq() : 0
    return this.#links.map((l) => ({
      id: l.peer.id,
      acked: l.acked,
      pending: Math.max(0, last - l.acked),
      retrying: l.retrying,
      lastError: l.lastError,
      nextAttemptAt: l.nextAttemptAt
    }))
  }

  /** Stops sending, saves the cursors, closes the peers. Waiters reject. */
  close (): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort()
      for (const l of this.#links) l.abort()
      await Promise.all(this.#links.map((l) => l.running))
      await this.#cursors.flush()
      await Promise.all(this.#links.map((l) => l.peer.close()))
      for (const w of this.#waiters.splice(0)) (w as any).cancel(new ReplicationClosedError('replication closed before every peer acknowledged'))
    })()
    return this.#closed
  }
}

export function replicate (store: Store, options: ReplicateOptions): Replication {
  return new Replication(store, options)
}
