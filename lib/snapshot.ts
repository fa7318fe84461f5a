/**
 * A frozen, consistent view of one commit. It holds an LMDB reader slot and
 * pins the pages it sees until close(); a forgotten snapshot is closed when
 * it is garbage-collected, and every snapshot closes with its store.
 */
import type { Store } from './store'
import type { NativeTxn } from './native'
import { ReadView } from './reader'
import { kSnapshotNative } from './internal'

/** Constructs only through newSnapshot(): the constructor is not API. */
const INTERNAL = Symbol('lmdb-txn internal')

export class Snapshot extends ReadView {
  readonly #native: NativeTxn
  readonly #store: Store

  private constructor (key: symbol, native: NativeTxn, store: Store) {
    if (key !== INTERNAL) throw new TypeError('Snapshot has no public constructor: use store.snapshot()')
    super(native)
    this.#native = native
    this.#store = store
  }

  /** The store handle it was taken from (kept reachable while the snapshot is). */
  get store (): Store { return this.#store }

  /** True until close() (or its store's close()). */
  get active (): boolean { return this.#native.active }

  /** @internal the native snapshot (dump reads the change log in the same view) */
  get [kSnapshotNative] (): NativeTxn { return this.#native }

  /** Releases the reader slot. Idempotent. */
  close (): void {
    if (this.#native.active) this.#native.abort()
  }

  [Symbol.dispose] (): void { this.close() }
}

type SnapshotConstructor = new (key: symbol, native: NativeTxn, store: Store) => Snapshot

/** @internal store.snapshot() */
export function newSnapshot (native: NativeTxn, store: Store): Snapshot {
  return new (Snapshot as unknown as SnapshotConstructor)(INTERNAL, native, store)
}
