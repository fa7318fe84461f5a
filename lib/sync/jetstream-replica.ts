/**
 * Replica side of JetStream replication: a durable pull consumer on
 * `<subjectPrefix>.<primary store id>`. Each record (its parts gathered) is
 * applied in one LMDB transaction that also stores its seq; its messages are
 * acked only after that commit. A redelivered record (seq <= applied) is
 * acked and skipped.
 *
 * The publisher keeps records in seq order on the stream (see
 * jetstream-publisher.ts), but a pull consumer may redeliver an old unacked
 * message after newer ones (a fetch lost in a reconnect, a killed replica).
 * So a record ahead of the next expected one first makes the consumer
 * restart from the stream position after the last applied record; if the
 * first record after such a restart is still ahead, the stream really lacks
 * it (trimmed by maxAge, purged, lost) and the replica stops with a
 * ReplicaGapError: it never applies out of order.
 */
import type { NatsConnection } from '@nats-io/nats-core'
import type { Consumer, ConsumerConfig, JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream'
import { LmdbTxnError } from '../errors'
import { apiCode } from './jetstream-publisher'
import { checkStreamName, checkSubjectPrefix, loadNats, natsServers } from './nats-client'

export interface JetStreamReplicaOptions {
  nats: string | string[]
  stream: string
  /** Durable consumer name: one per replica store (each replica gets everything). */
  consumer: string
  subjectPrefix?: string
  /** Primary store id; needed only when a new replica's stream carries several stores. */
  primary?: string
  /** Messages pulled per request (default 256). */
  batch?: number
  backoff?: { initialMs?: number, maxMs?: number }
}

/** What the consumer needs from the replica store. */
export interface ReplicaTarget {
  /** Store id of the primary this replica already belongs to. */
  primary (): string | undefined
  /** Last seq applied whole. */
  appliedSeq (): number
  /**
   * Applies one wire message (a record, or stages a part) in one transaction
   * with its seq; resolves once durable. Calls take effect in call order.
   * Rejects with code 'GAP' when it is not the next one (nothing written).
   */
  apply (message: Uint8Array): Promise<{ status: 'applied' | 'duplicate' | 'staged' }>
  /** Decodes the wire header of a message (throws on malformed input). */
  header (message: Uint8Array): { storeId: string, seq: number, part: number, parts: number }
}

/** The stream lacks a record the replica needs next; the replica stops. */
export class ReplicaGapError extends LmdbTxnError {
  constructor (readonly expected: number, readonly got: number, stream: string, streamSeq: number, after: number) {
    super('REPLICA_GAP', `replica expects record ${expected} but stream "${stream}" continues with ${got} ` +
      `(stream seq ${streamSeq}, reading from ${after + 1}) ` +
      '(the record was trimmed by maxAge/maxBytes, purged, or lost); re-seed this replica from a dump of the primary')
  }
}

export interface JetStreamReplicaStatus {
  primary: string | undefined
  appliedSeq: number
  /** Messages the consumer still has to deliver (from the last pull). */
  pending: number | undefined
  retrying: boolean
  lastError: string | undefined
  /** Consumer restarts (reorder after redelivery); redeliveries skipped. */
  restarts: number
  skipped: number
  stopped: boolean
}

export class JetStreamReplica {
  readonly servers: string[]
  readonly #opts: JetStreamReplicaOptions
  readonly #target: ReplicaTarget
  readonly #prefix: string
  #nc: NatsConnection | undefined
  #js: JetStreamClient | undefined
  #jsm: JetStreamManager | undefined
  #primary: string | undefined
  #abort = new AbortController()
  /** Stream seq of the last message applied, staged or skipped in order (this process). */
  #resumeAfter = 0
  /** No in-order message accepted since the consumer was (re)started. */
  #fresh = true
  #status: JetStreamReplicaStatus
  readonly done: Promise<void>

  constructor (opts: JetStreamReplicaOptions, target: ReplicaTarget) {
    this.servers = natsServers(opts.nats)
    checkStreamName('stream', opts.stream)
    checkStreamName('consumer', opts.consumer)
    this.#prefix = checkSubjectPrefix(opts.subjectPrefix ?? `lmdb-txn.${opts.stream}`)
    if (opts.batch !== undefined && !(Number.isInteger(opts.batch) && opts.batch >= 1 && opts.batch <= 10_000)) throw new RangeError('batch must be an integer 1..10000')
    this.#opts = opts
    this.#target = target
    this.#primary = target.primary()
    if (opts.primary !== undefined) {
      if (!/^[A-Za-z0-9_-]+$/.test(opts.primary)) throw new TypeError(`primary ${JSON.stringify(opts.primary)} is not a store id`)
      if (this.#primary !== undefined && this.#primary !== opts.primary) throw new Error(`this replica belongs to primary ${this.#primary}, not ${opts.primary}`)
      this.#primary = opts.primary
    }
    this.#status = { primary: this.#primary, appliedSeq: target.appliedSeq(), pending: undefined, retrying: false, lastError: undefined, restarts: 0, skipped: 0, stopped: false }
    this.done = this.#run().finally(() => { this.#status.stopped = true })
    this.done.catch(() => {})
  }

  status (): JetStreamReplicaStatus {
    return { ...this.#status, appliedSeq: this.#target.appliedSeq() }
  }

  async close (): Promise<void> {
    this.#abort.abort()
    await this.done.catch(() => {})
  }

  get #subject (): string { return `${this.#prefix}.${this.#primary!}` }

  async #run (): Promise<void> {
    const signal = this.#abort.signal
    const initial = this.#opts.backoff?.initialMs ?? 100
    const max = this.#opts.backoff?.maxMs ?? 5000
    let delay = initial
    let consumer: Consumer | undefined
    try {
      while (!signal.aborted) {
        try {
          await this.#connect()
          if (this.#primary === undefined && !(await this.#discoverPrimary())) { await sleep(1000, signal); continue }
          consumer ??= await this.#startConsumer()
          const outcome = await this.#pull(consumer)
          this.#status.retrying = false
          delay = initial
          if (outcome === 'restart') consumer = undefined
        } catch (e) {
          if (e instanceof ReplicaGapError || isFatal(e)) throw e
          if (signal.aborted) break
          this.#status.retrying = true
          this.#status.lastError = String((e as Error)?.message ?? e)
          consumer = undefined  // unacked deliveries are gone with the failure: restart after the last applied
          await sleep(delay * (0.5 + Math.random() / 2), signal)
          delay = Math.min(max, delay * 2)
        }
      }
    } catch (e) {
      this.#status.lastError = String((e as Error)?.message ?? e)
      throw e
    } finally {
      const nc = this.#nc
      this.#nc = undefined
      if (nc !== undefined && !nc.isClosed()) await nc.close().catch(() => {})
    }
  }

  async #connect (): Promise<void> {
    if (this.#nc !== undefined && !this.#nc.isClosed()) return
    const { transport, jetstream } = loadNats()
    this.#nc = await transport.connect({
      servers: this.servers, name: `lmdb-txn replica ${this.#opts.consumer}`,
      maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 5000
    })
    this.#js = jetstream.jetstream(this.#nc, { timeout: 5000 })
    this.#jsm = await jetstream.jetstreamManager(this.#nc, { timeout: 5000 })
  }

  /** A new replica learns its primary from the stream when it carries one store only. */
  async #discoverPrimary (): Promise<boolean> {
    const info = await this.#jsm!.streams.info(this.#opts.stream, { subjects_filter: `${this.#prefix}.*` })
    const subjects = Object.keys(info.state.subjects ?? {})
    if (subjects.length === 0) return false
    if (subjects.length > 1) {
      throw new FatalReplicaError(`stream "${this.#opts.stream}" carries several stores (${subjects.map((s) => s.slice(this.#prefix.length + 1)).join(', ')}); pass primary (--primary <store id>)`)
    }
    this.#primary = subjects[0].slice(this.#prefix.length + 1)
    this.#status.primary = this.#primary
    return true
  }

  /**
   * (Re)creates the durable consumer so delivery starts in stream order right
   * after the last applied record: in this process from the stream seq we
   * applied last, after a restart from the consumer's ack floor (acks follow
   * commits, so everything below it is applied), for a new replica from the
   * start. Unacked deliveries of an earlier incarnation are dropped with it.
   */
  async #startConsumer (): Promise<Consumer> {
    const jsm = this.#jsm!
    const name = this.#opts.consumer
    let start = this.#resumeAfter + 1
    if (this.#resumeAfter === 0) {
      start = 1
      if (this.#target.appliedSeq() > 0) {
        try {
          const info = await jsm.consumers.info(this.#opts.stream, name)
          if (info.config.filter_subject === this.#subject) start = info.ack_floor.stream_seq + 1
        } catch (e) { if (apiCode(e) !== 10014) throw e }
      }
    }
    try { await jsm.consumers.delete(this.#opts.stream, name) } catch (e) { if (apiCode(e) !== 10014) throw e }
    const { jetstream } = loadNats()
    const cfg: Partial<ConsumerConfig> = {
      durable_name: name,
      ack_policy: jetstream.AckPolicy.Explicit,
      filter_subject: this.#subject,
      deliver_policy: jetstream.DeliverPolicy.StartSequence,
      opt_start_seq: start,
      ack_wait: 30_000_000_000,
      max_ack_pending: 4096,
      max_deliver: -1
    }
    await jsm.consumers.add(this.#opts.stream, cfg)
    this.#fresh = true
    return await this.#js!.consumers.get(this.#opts.stream, name)
  }

  /**
   * One pull. Each message is handed to apply() as it arrives, without
   * waiting for the previous one (group commit then shares one fsync among
   * the records that arrive together); the results are taken in order on a
   * promise chain that acks each message once its apply resolved.
   * 'restart' when the order broke.
   */
  async #pull (consumer: Consumer): Promise<'ok' | 'restart'> {
    const msgs = await consumer.fetch({ max_messages: this.#opts.batch ?? 256, expires: 2000 })
    const signal = this.#abort.signal
    let verdict = 'ok' as 'ok' | 'restart'
    let failure: unknown
    let chain = Promise.resolve()
    let inFlight = 0
    const settle = async (m: JsMsg, done: Promise<{ status: string }>): Promise<void> => {
      try {
        if (verdict !== 'ok' || failure !== undefined) return
        let r
        try {
          r = await done
        } catch (e) {
          if ((e as { code?: string })?.code !== 'GAP') { failure = e; return }
          const expected = (e as { expected?: { seq: number } }).expected?.seq ?? this.#target.appliedSeq() + 1
          if (this.#fresh) failure = new ReplicaGapError(expected, this.#target.header(m.data).seq, this.#opts.stream, m.seq, this.#resumeAfter)
          else verdict = 'restart'
          return
        }
        m.ack()
        this.#status.retrying = false
        if (r.status === 'duplicate') this.#status.skipped++
        else this.#fresh = false
        this.#resumeAfter = Math.max(this.#resumeAfter, m.seq)
      } finally { inFlight-- }
    }
    try {
      for await (const m of msgs) {
        if (signal.aborted || verdict !== 'ok' || failure !== undefined) break
        this.#status.pending = m.info.pending
        let h
        try { h = this.#target.header(m.data) } catch (e) {
          throw new FatalReplicaError(`stream "${this.#opts.stream}" seq ${m.seq} is not an lmdb-txn record message: ${(e as Error).message}`)
        }
        if (h.storeId !== this.#primary) throw new FatalReplicaError(`stream "${this.#opts.stream}" seq ${m.seq} comes from store ${h.storeId}; this replica belongs to ${this.#primary}`)
        const done = this.#target.apply(m.data)
        done.catch(() => {})  // taken by settle()
        inFlight++
        chain = chain.then(() => settle(m, done))
        if (inFlight >= 1024) await chain
      }
    } finally {
      msgs.stop()
      await chain  // every apply started settles before the consumer restarts
    }
    if (failure !== undefined) throw failure
    if (verdict === 'restart') this.#status.restarts++
    return verdict
  }
}

/** Not retried: the replica stops (bad data, foreign store, ambiguous stream). */
export class FatalReplicaError extends LmdbTxnError {
  constructor (message: string) {
    super('REPLICA_STOPPED', message)
  }
}

function isFatal (e: unknown): boolean {
  const code = (e as { code?: string })?.code
  return e instanceof FatalReplicaError || code === 'RECORD_FORMAT' || code === 'FOREIGN_PRIMARY' || e instanceof TypeError || e instanceof RangeError
}

function sleep (ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) { resolve(); return }
    const t = setTimeout(done, ms)
    function done (): void { clearTimeout(t); signal.removeEventListener('abort', done); resolve() }
    signal.addEventListener('abort', done, { once: true })
  })
}
