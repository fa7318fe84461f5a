/**
 * A write transaction held open in native code across calls. Methods are
 * thin: paths, values, limits and state are checked natively, in one place.
 */
import type { NativeTxn } from './native'
import { ReadView } from './reader'
import { booleanOption, describe, methodOptions } from './options'
import { TransactionFinishedError, StoreClosedError } from './errors'
import { applyMessage, planMessage, type Message } from './message'
import type { Store } from './store'

export interface RemoveOptions {
  /** Also delete every entry under `path/`. */
  recursive?: boolean
}

export function isThenable (value: unknown): boolean {
  return value !== null && (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
}

export function requireSyncCallback (fn: unknown, where: string): void {
  if (typeof fn !== 'function') throw new TypeError(`${where} expects a function, got ${describe(fn)}`)
  if ((fn as { [Symbol.toStringTag]?: string })[Symbol.toStringTag] === 'AsyncFunction') {
    throw new TypeError(`${where} callback must be synchronous: an async function would commit before its awaits run`)
  }
}

/** A callback returned a promise: its writes were aborted. */
/** Each map growth doubles the map: this bounds re-runs of a callback form, not sizes. */
export const MAX_GROWTH_RETRIES = 64

export function rejectThenable (result: unknown, where: string): never {
  // The caller's promise may reject later (it used a finished transaction);
  // nobody else will observe it, so keep it from crashing the process.
  ;(result as PromiseLike<unknown>).then(undefined, () => {})
  throw new TypeError(`${where} callback returned a promise; its writes were undone. ` +
    'Transactions are synchronous: do the async work before or after it')
}

export class Transaction extends ReadView {
  /** @internal */
  readonly native: NativeTxn
  /** @internal set when a callback form (transactionSync, transaction) owns the commit */
  readonly managedBy: string | undefined

  /**
   * The store handle that began it. Holding it also keeps the handle
   * reachable: collecting it would close the store under a live transaction.
   */
  readonly store: Store | undefined

  readonly #onCommit: (() => void) | undefined

  /** @internal use store.begin() */
  constructor (native: NativeTxn, managedBy?: string, store?: Store, onCommit?: () => void) {
    super(native)
    this.native = native
    this.managedBy = managedBy
    this.store = store
    this.#onCommit = onCommit
  }

  /** False after commit, abort, a failure, or crossing a limit. */
  get active (): boolean { return this.native.active }

  write (path: string, value: Uint8Array | string): void { this.native.write(path, value) }
  makeGroup (path: string): void { this.native.makeGroup(path) }
  /** `path` becomes a link to `target` (argument order of fs.symlink). */
  makeLink (target: string, path: string): void { this.native.makeLink(target, path) }

  /** Deletes the entry at `path` (and its subtree when recursive); returns whether anything existed. */
  remove (path: string, opts?: RemoveOptions): boolean {
    return this.native.remove(path, booleanOption(methodOptions(opts), 'recursive', false))
  }

  /** Writes a whole message (group, fields, sub-groups, links) in this transaction. */
  writeMessage (message: Message): void {
    applyMessage(this.native, planMessage(message))
  }

  /**
   * A savepoint (LMDB child transaction): if `fn` throws, only its own
   * writes are undone and the error is rethrown.
   */
  transaction<T> (fn: (txn: Transaction) => T): T {
    requireSyncCallback(fn, 'transaction()')
    this.native.beginChild()
    let result: T
    try {
      result = fn(this)
    } catch (err) {
      this.native.abortChild()
      throw err
    }
    if (isThenable(result)) {
      this.native.abortChild()
      rejectThenable(result, 'transaction()')
    }
    try {
      this.native.commitChild()
    } catch (err) {
      this.native.abortChild() // never leave the savepoint open (e.g. TransactionTooLargeError)
      throw err
    }
    return result
  }

  /**
   * Commits; durable per the store's `durability` when it returns. Returns
   * the change-log seq it recorded (undefined when the log is off or the
   * transaction changed nothing).
   */
  commit (): number | undefined {
    this.#requireUnmanaged('commit')
    const seq = this.native.commit()
    if (seq !== undefined) this.#onCommit?.()
    return seq
  }

  abort (): void {
    this.#requireUnmanaged('abort')
    this.native.abort()
  }

  #requireUnmanaged (method: string): void {
    if (this.managedBy !== undefined) {
      throw new TypeError(`${method}() cannot be called on a transaction managed by ${this.managedBy}: ` +
        'return from the callback to commit, throw to abort')
    }
  }

  /** `using txn = store.begin()` aborts it if the block leaves it uncommitted. */
  [Symbol.dispose] (): void {
    if (this.managedBy !== undefined) return
    try {
      this.native.abort()
    } catch (err) {
      if (!(err instanceof TransactionFinishedError) && !(err instanceof StoreClosedError)) throw err
    }
  }
}
