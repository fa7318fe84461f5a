/**
 * Primary side of JetStream replication: each record (or each part of a
 * split record) is one message on `<subjectPrefix>.<storeId>`, with
 * `Nats-Msg-Id` so the stream drops a re-send, and the publish ack of the
 * record's last part is the peer's ack (on a stream with replicas: 3, a RAFT
 * majority stored it).
 *
 * Order on the stream is enforced by the server, not hoped for: every publish
 * carries `Nats-Expected-Last-Subject-Sequence` = the stream seq of our
 * previous message. A publish that was lost while a later one got through
 * (reconnect, leader change) would otherwise leave record n+1 before record n
 * on the stream; with the expectation the later one is refused and the
 * publisher resynchronises from the stream's last message on the subject.
 * While this store is alone on a single-replica stream, up to 64 publishes
 * are in flight, each expecting the previous one's predicted stream seq
 * (see position()); otherwise one round trip per message.
 */
import type { NatsConnection } from '@nats-io/nats-core'
import type { JetStreamClient, JetStreamManager, StreamConfig } from '@nats-io/jetstream'
import { LmdbTxnError } from '../errors'
import {
  checkStreamName, checkSubjectPrefix, loadNats, messageId, natsServers
} from './nats-client'

export interface JetStreamCreateOptions {
  /** Stream replicas (1, 3 or 5 in a cluster). Default 1. */
  replicas?: number
  /** Stream size limit in bytes; publishes past it are refused (discard: new). */
  maxBytes?: number
  /** Age limit in ms after which the stream drops messages (0: none). */
  maxAge?: number
}

export interface JetStreamPeerOptions {
  /** Server URL(s): one, comma-separated, or a list (any node of a cluster). */
  nats: string | string[]
  stream: string
  /** Subjects are `<subjectPrefix>.<storeId>`. Default `lmdb-txn.<stream>`. */
  subjectPrefix?: string
  /** Create the stream when missing; without it a missing stream is an error. */
  create?: JetStreamCreateOptions
  /** Publish ack timeout in ms (default 5000); a timeout is retried like any failure. */
  ackTimeoutMs?: number
  /** Connection name shown by the server (monitoring). */
  name?: string
}

/** Where the stream stands for this store: its last message on our subject. */
export interface StreamPosition {
  /** Record seq of that message (0: nothing on the subject). */
  seq: number
  /** Its part (0-based) and part count (1 for a whole record). */
  part: number
  parts: number
  /** Its stream sequence (0 when none). */
  streamSeq: number
}

/** The stream does not exist and `create` was not given. */
export class StreamMissingError extends LmdbTxnError {
  constructor (stream: string, servers: string[]) {
    super('NATS_STREAM_MISSING', `JetStream stream "${stream}" does not exist on ${servers.join(',')}; create it ` +
      `(nats stream add ${stream} --subjects '<prefix>.*' --discard new) or pass create: { replicas, maxBytes, maxAge }`)
  }
}

/** The stream refused a message (full, or another limit); retried until it takes it. */
export class StreamRefusedError extends LmdbTxnError {
  constructor (stream: string, seq: number, reason: string, options?: ErrorOptions) {
    super('NATS_STREAM_REFUSED', `JetStream stream "${stream}" refused record ${seq}: ${reason}`, options)
  }
}

/** The subject's last message is not ours: someone else publishes on it. */
export class StreamOrderError extends LmdbTxnError {
  constructor (message: string) {
    super('NATS_STREAM_ORDER', message)
  }
}

/** Headroom for headers and protocol framing below the server's max_payload. */
const HEADER_ALLOWANCE = 512
const API_WRONG_LAST_SEQ = 10071
/** Publishes in flight while pipelining is safe (see position()). */
const PIPELINE_WINDOW = 64
const API_STREAM_NOT_FOUND = 10059

export class JetStreamPublisher {
  readonly servers: string[]
  readonly stream: string
  readonly subject: string
  readonly #opts: JetStreamPeerOptions
  readonly #storeId: string
  #nc: NatsConnection | undefined
  #js: JetStreamClient | undefined
  #jsm: JetStreamManager | undefined
  #connecting: Promise<void> | undefined
  /** Our last message on the stream or in flight (streamSeq -1); undefined until resynced. */
  #tail: StreamPosition | undefined
  /** Expected last subject seq for the next publish (predicted while others are in flight). */
  #expect: number | undefined
  #inFlight = 0
  #pipelined = false
  #pipelineRefused = false
  #closed = false

  readonly #header: (message: Uint8Array) => { storeId: string, seq: number, part: number, parts: number }

  constructor (opts: JetStreamPeerOptions, storeId: string, header: (message: Uint8Array) => { storeId: string, seq: number, part: number, parts: number }) {
    this.#header = header
    this.servers = natsServers(opts.nats)
    this.stream = checkStreamName('stream', opts.stream)
    const prefix = checkSubjectPrefix(opts.subjectPrefix ?? `lmdb-txn.${opts.stream}`)
    if (!/^[A-Za-z0-9_-]+$/.test(storeId)) throw new TypeError(`store id ${JSON.stringify(storeId)} is not a subject token`)
    const c = opts.create
    if (c !== undefined) {
      if (c.replicas !== undefined && !(Number.isInteger(c.replicas) && c.replicas >= 1 && c.replicas <= 5)) throw new RangeError('create.replicas must be an integer 1..5')
      if (c.maxBytes !== undefined && !(Number.isSafeInteger(c.maxBytes) && c.maxBytes > 0)) throw new RangeError('create.maxBytes must be a positive integer')
      if (c.maxAge !== undefined && !(Number.isSafeInteger(c.maxAge) && c.maxAge >= 0)) throw new RangeError('create.maxAge must be a non-negative integer (ms)')
    }
    if (opts.ackTimeoutMs !== undefined && !(Number.isInteger(opts.ackTimeoutMs) && opts.ackTimeoutMs > 0)) throw new RangeError('ackTimeoutMs must be a positive integer')
    this.subject = `${prefix}.${storeId}`
    this.#opts = opts
    this.#storeId = storeId
  }

  /** Connects (reconnecting forever afterwards) and checks or creates the stream. */
  connect (): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('publisher closed'))
    if (this.#nc !== undefined && this.#nc.isClosed()) { this.#nc = undefined; this.#connecting = undefined }
    this.#connecting ??= this.#connect().catch((e) => { this.#connecting = undefined; throw e })
    return this.#connecting
  }

  async #connect (): Promise<void> {
    const { transport, jetstream } = loadNats()
    if (this.#nc === undefined) {
      this.#nc = await transport.connect({
        servers: this.servers,
        name: this.#opts.name ?? `lmdb-txn primary ${this.#storeId}`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        timeout: 5000
      })
      this.#js = jetstream.jetstream(this.#nc, { timeout: this.#opts.ackTimeoutMs ?? 5000 })
      this.#jsm = await jetstream.jetstreamManager(this.#nc, { timeout: 5000 })
    }
    await this.#ensureStream()
  }

  async #ensureStream (): Promise<void> {
    const jsm = this.#jsm!
    try {
      const info = await jsm.streams.info(this.stream)
      if (!info.config.subjects?.some((s) => subjectMatches(s, this.subject))) {
        throw new TypeError(`JetStream stream "${this.stream}" does not take subject ${this.subject} (its subjects: ${info.config.subjects?.join(', ')}); set subjectPrefix`)
      }
      return
    } catch (e) {
      if (apiCode(e) !== API_STREAM_NOT_FOUND) throw e
    }
    const c = this.#opts.create
    if (c === undefined) throw new StreamMissingError(this.stream, this.servers)
    const { jetstream } = loadNats()
    const prefix = this.subject.slice(0, this.subject.length - this.#storeId.length - 1)
    const cfg: Partial<StreamConfig> & { name: string } = {
      name: this.stream,
      subjects: [`${prefix}.*`],
      storage: jetstream.StorageType.File,
      retention: jetstream.RetentionPolicy.Limits,
      // Never drop a record a replica may still need to make room: refuse.
      discard: jetstream.DiscardPolicy.New,
      num_replicas: c.replicas ?? 1,
      max_bytes: c.maxBytes ?? -1,
      max_age: (c.maxAge ?? 0) * 1_000_000,
      duplicate_window: 120 * 1_000_000_000
    }
    try {
      await jsm.streams.add(cfg)
    } catch (e) {
      // Another primary created it meanwhile: fine if it takes our subject.
      if (!/already in use|already exists/i.test(String((e as Error).message))) throw e
    }
  }

  /** Largest message body the server takes (its max_payload less header room). */
  maxPayload (): number {
    const info = this.#nc?.info
    if (info === undefined) throw new Error('not connected')
    return info.max_payload - HEADER_ALLOWANCE
  }

  /**
   * The stream's last message on our subject; resets the ordering state to
   * it, and decides whether publishes may be pipelined: only while our
   * subject holds the stream's last message and no other subject is on the
   * stream, since the expectation of a message in flight is predicted (the
   * previous message's stream seq + 1).
   */
  async position (): Promise<StreamPosition> {
    await this.connect()
    const [m, info] = await Promise.all([
      this.#jsm!.streams.getMessage(this.stream, { last_by_subj: this.subject }),
      this.#jsm!.streams.info(this.stream)
    ])
    let pos: StreamPosition
    if (m === null) {
      pos = { seq: 0, part: 0, parts: 1, streamSeq: 0 }
    } else {
      let h
      try { h = this.#header(m.data) } catch (e) {
        throw new StreamOrderError(`the last message on ${this.subject} (stream seq ${m.seq}) is not an lmdb-txn record: ${(e as Error).message}`)
      }
      if (h.storeId !== this.#storeId) throw new StreamOrderError(`the last message on ${this.subject} (stream seq ${m.seq}) comes from store ${h.storeId}`)
      pos = { seq: h.seq, part: h.part, parts: h.parts, streamSeq: m.seq }
    }
    this.#tail = pos
    this.#expect = pos.streamSeq
    // A clustered stream (nats-server 2.9) checks the expectation against
    // what RAFT applied, not what its leader has in flight: pipelining there
    // refuses every message after the first; so single-replica streams only.
    this.#pipelined = !this.#pipelineRefused && info.config.num_replicas === 1 &&
      info.state.last_seq === pos.streamSeq && (info.state.num_subjects ?? 0) <= 1
    return pos
  }

  /** Publishes in flight at once: PIPELINE_WINDOW while pipelining is safe, else 1. */
  window (): number { return this.#pipelined ? PIPELINE_WINDOW : 1 }

  /**
   * Publishes one wire message (record `at.seq`, part `at.part` of
   * `at.parts`, 0-based) and resolves once the stream stored it. A message
   * the stream already holds (a re-send after a lost ack) resolves at once.
   * Calls must come in message order; several may be in flight (window()).
   */
  async publish (message: Uint8Array, at: { seq: number, part: number, parts: number }): Promise<void> {
    if (this.#tail === undefined) await this.position()
    const tail = this.#tail!
    if (tail.streamSeq !== 0) {
      const complete = tail.part + 1 === tail.parts
      // already on the stream (a re-send after a lost ack)
      if (at.seq < tail.seq || (at.seq === tail.seq && (complete || (at.parts === tail.parts && at.part <= tail.part)))) return
      // only the message right after the last one may follow it
      const follows = at.part === 0
        ? (at.seq === tail.seq + 1 && complete) || at.seq === tail.seq
        : at.seq === tail.seq && at.parts === tail.parts && at.part === tail.part + 1
      if (!follows) {
        throw new StreamOrderError(`stream "${this.stream}" holds ${this.subject} up to seq ${tail.seq} part ${tail.part + 1}/${tail.parts}; ` +
          `seq ${at.seq} part ${at.part + 1}/${at.parts} cannot follow it`)
      }
    }
    // Assigned before the first await, so calls in flight chain in call order:
    // the next message expects this one right after the current last.
    const expected = this.#expect!
    this.#expect = expected + 1
    this.#tail = { ...at, streamSeq: -1 }
    this.#inFlight++
    let ack
    try {
      ack = await this.#js!.publish(this.subject, message, {
        msgID: messageId(this.#storeId, at.seq, at.part, at.parts),
        expect: { lastSubjectSequence: expected }
      })
    } catch (e) {
      this.#tail = undefined  // resync from the stream before the next try
      // a refused prediction while others were in flight: stop pipelining
      if (apiCode(e) === API_WRONG_LAST_SEQ && this.#inFlight > 1) this.#pipelineRefused = true
      throw this.#explain(at.seq, e)
    } finally {
      this.#inFlight--
    }
    if (ack.stream !== this.stream) throw new StreamOrderError(`subject ${this.subject} is stored by stream "${ack.stream}", not "${this.stream}"`)
    // nothing else in flight: the exact stream seq replaces the prediction
    if (this.#inFlight === 0 && this.#tail !== undefined) this.#expect = ack.seq
  }

  #explain (seq: number, e: unknown): Error {
    const code = apiCode(e)
    const msg = String((e as Error)?.message ?? e)
    if (code === API_WRONG_LAST_SEQ) return new StreamOrderError(`the stream's last message on ${this.subject} moved (${msg}); resynchronising`)
    if (code === API_STREAM_NOT_FOUND) return new StreamMissingError(this.stream, this.servers)
    if (/maximum (bytes|messages)|resource limits|insufficient resources|storage/i.test(msg)) return new StreamRefusedError(this.stream, seq, msg, { cause: e })
    return e instanceof Error ? e : new Error(msg)
  }

  async close (): Promise<void> {
    this.#closed = true
    const nc = this.#nc
    this.#nc = undefined
    if (nc !== undefined && !nc.isClosed()) await nc.close().catch(() => {})
  }
}

export function apiCode (e: unknown): number | undefined {
  const err = e as { apiError?: () => { err_code?: number } }
  if (typeof err?.apiError === 'function') return err.apiError().err_code
  return undefined
}

/** Whether NATS subject filter `filter` (with * and >) covers `subject`. */
export function subjectMatches (filter: string, subject: string): boolean {
  const f = filter.split('.'); const s = subject.split('.')
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i
    if (i >= s.length) return false
    if (f[i] !== '*' && f[i] !== s[i]) return false
  }
  return f.length === s.length
}
