/**
 * Per-peer cursors kept in the primary's own LMDB (the `sync` database,
 * `cursor/<peer id>` → highest acknowledged seq), so a restarted primary
 * resumes where each peer stands. Writes are coalesced: at most one cursor
 * transaction is in flight (group commit, off the JS thread); a cursor may
 * lag the peer, which only means a few records are resent and skipped as
 * duplicates by the replica — nothing is lost and nothing applied twice.
 */
import type { Store } from '../store'
import { readSeq, seqBytes, SYNC_KEYS } from '../sync-state'
import { kSyncGet, kTransactionSeq } from '../internal'

const key = (peerId: string): Buffer => Buffer.from(SYNC_KEYS.cursorPrefix + peerId)

export class CursorStore {
  readonly #store: Store
  #pending = new Map<string, number>()
  #writing: Promise<void> | undefined

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
    while (this.#writing !== undefined) await this.#writing
  }

  async #drain (): Promise<void> {
    try {
      while (this.#pending.size > 0 && this.#store.active) {
        const batch = this.#pending
        this.#pending = new Map()
        await this.#store[kTransactionSeq]((_txn, native) => {
          for (const [peer, seq] of batch) {
            const k = key(peer)
            if (readSeq(native.syncGet(k)) < seq) native.syncPut(k, seqBytes(seq))
          }
        })
      }
    } catch {
      // The store closed or failed: the cursor lags; the peer skips resent records.
    } finally {
      this.#writing = undefined
    }
  }
}
