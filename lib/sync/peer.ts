/**
 * The one interface every transport implements (lib/sync/http-peer.ts,
 * and the JetStream publisher). The replicator owns ordering, windows,
 * retries with backoff and cursors; a Peer only says hello and delivers
 * one encoded message (lib/sync/wire.ts) at a time, resolving when the
 * peer has it durably (applied, or staged for a split record).
 */
import type { PeerLimits } from './wire'
import { LmdbTxnError } from '../errors'

export interface PeerHello {
  limits: PeerLimits
  /**
   * What the peer has applied of this primary, when it can tell (an HTTP
   * replica can; a log such as JetStream cannot): the sender resumes after
   * it instead of after the stored cursor. Undefined: resume from the cursor.
   */
  appliedSeq?: number
  /** Messages the sender may have in flight to this peer at once (default 1). */
  window?: number
}

export interface Peer {
  /** Stable name; the primary's cursor for this peer is stored under it. */
  readonly id: string
  /** Called before the first send and after every failure; may reject (retried). */
  hello (signal: AbortSignal): Promise<PeerHello>
  /** Delivers one wire message; resolves once the peer holds it durably. */
  send (message: Buffer, at: { seq: number, part: number, parts: number }, signal: AbortSignal): Promise<void>
  close (): Promise<void>
}

/** Why a peer refused or failed a message. The sender retries every kind. */
export class PeerError extends LmdbTxnError {
  /** The peer expects this seq (and part) next: a gap. */
  readonly expected: { seq: number, part: number } | undefined
  /** HTTP status, when there was one. */
  readonly status: number | undefined
  constructor (message: string, code: string, opts: { expected?: { seq: number, part: number }, status?: number, cause?: unknown } = {}) {
    super(code, message, { cause: opts.cause })
    this.expected = opts.expected
    this.status = opts.status
  }
}
