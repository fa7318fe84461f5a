/**
 * A frozen, consistent view of one commit. It holds an LMDB reader slot and
 * pins the pages it sees until close(); a forgotten snapshot is closed when
 * it is garbage-collected, and every snapshot closes with its store.
 */
import type { Store } from './store'
import { readResult, type EntryType, type NativeTxn } from './native'
import { keys, list, typeFollow, type KeysOptions, type ListOptions, type Readable, type TypeOptions } from './reader'

export class Snapshot implements Readable {
  readonly #native: NativeTxn
  /** The store handle it was taken from (kept reachable while the snapshot is). */
  readonly store: Store

  /** @internal use store.snapshot() */
  constructor (native: NativeTxn, store: Store) {
    this.#native = native
    this.store = store
  }

  get open (): boolean { return this.#native.active }

  read (path: string): Uint8Array | undefined { return readResult(this.#native.read(path)) }
  readString (path: string): string | undefined { return this.#native.readString(path) }
  type (path: string, opts?: TypeOptions): EntryType | undefined { return this.#native.type(path, typeFollow(opts)) }
  list (path: string, opts?: ListOptions): string[] { return list(this.#native, path, opts) }
  resolve (path: string): string { return this.#native.resolve(path) }
  exists (path: string): boolean { return this.#native.exists(path) }
  /** Literal keys in bytewise order, no link followed (an addition for tools; see docs/api.md). */
  keys (opts?: KeysOptions): string[] { return keys(this.#native, opts) }
  /** The stored target when the literal key is a link (no link is followed); else undefined. */
  readLink (path: string): string | undefined { return this.#native.readLink(path) }

  /** Releases the reader slot. Idempotent. */
  close (): void {
    if (this.#native.active) this.#native.abort()
  }

  [Symbol.dispose] (): void { this.close() }
}
