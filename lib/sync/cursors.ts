/**
 * Per-peer cursors kept in the primary's own LMDB (the `sync` database,
 * `cursor/<peer id>` → highest acknowledged seq), so a restarted primary
 * resumes where each peer stands. Writes are coalesced: at most one cursor
 * transaction per 50 ms (a short one on the JS thread); a cursor may
 * lag the peer, which only means a few records are resent and skipped as
 * duplicates by the replica — nothing is lost and nothing applied twice.
 */
import type { Store } from '../store'
import { readSeq, seqBytes, SYNC_KEYS } from '../sync-state'
import { kRunSync, kSyncGet } from '../internal'

/** Cursor writes are coalesced over this long (a lagging cursor only means resends). */
const CURSOR_DELAY_MS = 50

const key = (peerId: string): Buffer => Buffer.from(SYNC_KEYS.cursorPrefix + peerId)

export class CursorStore {
  readonly #store: Store
  #pending = new Map<string, number>()
  #writing: Promise<void> | undefined
  #flushing = false

  constructor (store: Store) { this.#store = store }

  /** The stored cursor of `peerId` (0 when none). */
  load (peerId: string): number {
    return readSeq(this.#store[kSyncGet](key(peerId)))
  }

  /** Remembers that `peerId` acknowledged everything up to `seq`. */
  save (peerId: string, seq: number): void {
    if ((this.#pending.get(peerId) ?? 0) >= seq) return
    this.#pending.set(peerId, seq)
    if (this.#writing === undefined) this.#writing = this.#drain()
  }

  /** Resolves once every saved cursor is durable. */
  async flush (): Promise<void> {
    this.#flushing = true
    try {
      while (this.#writing !== undefined) await this.#writing
    } finally {
      this.#flushing = false
    }
  }

  async #drain (): Promise<void> {
    try {
      while (this.#pending.size > 0 && this.#store.active) {
        // Coalesce: acks of the next CURSOR_DELAY_MS share one write txn.
        await new Promise((resolve) => setTimeout(resolve, this.#flushing ? 0 : CURSOR_DELAY_MS))
        if (!this.#store.active) return
        const batch = this.#pending
        this.#pending = new Map()
        this.#store[kRunSync]((_txn, native) => {
          for (const [peer, seq] of batch) {
            const k = key(peer)
            if (readSeq(native.syncGet(k)) < seq) native.syncPut(k, seqBytes(seq))
          }
        }, 'replication cursor')
      }
    } catch {
      // The store closed or failed: the cursor lags; the peer skips resent records.
    } finally {
      this.#writing = undefined
    }
  }
}
