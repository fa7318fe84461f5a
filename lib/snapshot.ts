/**
 * A frozen, consistent view of one commit. It holds an LMDB reader slot and
 * pins the pages it sees until close(); a forgotten snapshot is closed when
 * it is garbage-collected, and every snapshot closes with its store.
 */
import type { Store } from './store'
import type { NativeTxn } from './native'
import { ReadView } from './reader'
import { kSnapshotNative } from './internal'

export class Snapshot extends ReadView {
  readonly #native: NativeTxn
  /** The store handle it was taken from (kept reachable while the snapshot is). */
  readonly store: Store

  /** @internal use store.snapshot() */
  constructor (native: NativeTxn, store: Store) {
    super(native)
    this.#native = native
    this.store = store
  }

  get open (): boolean { return this.#native.active }

  /** @internal the native snapshot (dump reads the change log in the same view) */
  get [kSnapshotNative] (): NativeTxn { return this.#native }

  /** Releases the reader slot. Idempotent. */
  close (): void {
    if (this.#native.active) this.#native.abort()
  }

  [Symbol.dispose] (): void { this.close() }
}
