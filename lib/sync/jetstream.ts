/**
 * The JetStream transport (SPEC §11.3): `{ nats, stream }` peers of
 * replicate() (primary side) and jetStreamReplica() (replica side).
 *
 * Primary: the JetStream publisher behind
 * the Peer interface (lib/sync/peer.ts). hello() connects, checks or creates
 * the stream and reports the last record the stream holds for this store
 * (the stream, not the local cursor, is the truth: a cursor that lags it
 * re-sends nothing, a stream that lost records gets them again); send()
 * publishes one wire message and resolves on its publish ack. Each publish
 * states the stream seq it follows (see the publisher), so the window is 64
 * only while this store is alone on a single-replica stream, else 1.
 */
import { createHash } from 'node:crypto'
import * as os from 'node:os'
import type { Store } from '../store'
import type { Peer, PeerHello } from './peer'
import { PeerError } from './peer'
import { decodeMessage } from './wire'
import { applyMessage, replicaState } from './apply'
import { registerTransport, type PeerContext } from './replicate'
import { JetStreamPublisher, type JetStreamPeerOptions } from './jetstream-publisher'
import { JetStreamReplica, type JetStreamReplicaOptions } from './jetstream-replica'

export type { JetStreamPeerOptions, JetStreamCreateOptions } from './jetstream-publisher'

export class JetStreamPeer implements Peer {
  readonly id: string
  readonly #pub: JetStreamPublisher

  constructor (storeId: string, options: JetStreamPeerOptions) {
    if (options === null || typeof options !== 'object') throw new TypeError('JetStream peer options must be an object')
    this.#pub = new JetStreamPublisher(options, storeId, decodeMessage)
    this.id = `jetstream:${this.#pub.stream}/${this.#pub.subject}`
  }

  async hello (_signal: AbortSignal): Promise<PeerHello> {
    const pos = await this.#wrap('hello', () => this.#pub.position())
    return {
      limits: { maxMessageBytes: this.#pub.maxPayload(), maxMessageOps: Number.MAX_SAFE_INTEGER, batches: true },
      // the last record whose every part the stream holds (none: resume from the cursor)
      appliedSeq: pos.streamSeq === 0 ? undefined : pos.part + 1 === pos.parts ? pos.seq : pos.seq - 1,
      window: this.#pub.window()
    }
  }

  send (message: Buffer, at: { seq: number, part: number, parts: number }, _signal: AbortSignal): Promise<void> {
    return this.#wrap(`seq ${at.seq} part ${at.part}`, () => this.#pub.publish(message, at))
  }

  close (): Promise<void> { return this.#pub.close() }

  async #wrap<T> (what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (e) {
      if (e instanceof PeerError || (e as { code?: string })?.code === 'NATS_CLIENT_MISSING') throw e
      const code = typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : 'NATS'
      throw new PeerError(`${this.id} ${what}: ${(e as Error)?.message ?? String(e)}`, code, { cause: e })
    }
  }
}

/** `{ nats: url | url[], stream }` in replicate({ peers }) makes a JetStreamPeer. */
registerTransport(
  (spec) => spec.nats !== undefined && spec.stream !== undefined,
  (spec: JetStreamPeerOptions, ctx: PeerContext) => new JetStreamPeer(ctx.storeId, spec)
)

export interface JetStreamReplicaCallOptions extends Omit<JetStreamReplicaOptions, 'consumer'> {
  /** Durable consumer name; default `lmdb-txn-<hash of host name and store path>`. */
  consumer?: string
}

/** Default durable consumer name: stable for one replica directory on one host. */
export function defaultConsumerName (storePath: string): string {
  return 'lmdb-txn-' + createHash('sha256').update(`${os.hostname()}\0${storePath}`).digest('hex').slice(0, 16)
}

/**
 * Makes `store` a replica fed from a JetStream stream: a durable pull
 * consumer whose records are applied with the shared replica apply (one
 * transaction per record with its seq) and acked after their commit. Runs
 * until close(); `done` rejects if it stops on its own (a gap, a foreign
 * store, malformed data).
 */
export function jetStreamReplica (store: Store, options: JetStreamReplicaCallOptions): JetStreamReplica {
  if (options === null || typeof options !== 'object') throw new TypeError('jetStreamReplica(store, options): options must be an object')
  return new JetStreamReplica({ ...options, consumer: options.consumer ?? defaultConsumerName(store.path) }, {
    primary: () => replicaState(store)?.primary,
    appliedSeq: () => replicaState(store)?.appliedSeq ?? 0,
    apply: (message) => applyMessage(store, message),
    header: (message) => decodeMessage(message)
  })
}
