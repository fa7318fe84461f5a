/**
 * A write transaction held open in native code across calls. Methods are
 * thin: paths, values, limits and state are checked natively, in one place.
 */
import { types } from 'node:util'
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

/**
 * Whether a callback's result is a promise or thenable (§4: its writes are
 * undone). Reading `then` runs user code (a getter, a Proxy): if that
 * throws, the result is treated as a thenable rather than let the error out.
 */
export function isThenable (value: unknown): boolean {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false
  if (types.isPromise(value)) return true
  try {
    return typeof (value as { then?: unknown }).then === 'function'
  } catch {
    return true
  }
}

export function requireSyncCallback (fn: unknown, where: string): void {
  if (typeof fn !== 'function') throw new TypeError(`${where} expects a function, got ${describe(fn)}`)
  if ((fn as { [Symbol.toStringTag]?: string })[Symbol.toStringTag] === 'AsyncFunction') {
    throw new TypeError(`${where} callback must be synchronous: an async function would commit before its awaits run`)
  }
}

/** Each map growth doubles the map: this bounds re-runs of a callback form, not sizes. */
export const MAX_GROWTH_RETRIES = 64

/** A callback returned a promise or thenable: its writes were aborted; throws the §4 TypeError. */
export function rejectThenable (result: unknown, where: string): never {
  // A native promise may reject later (it used a finished transaction);
  // nobody else will observe it, so keep it from crashing the process. A
  // user thenable's `then` is never called: it could throw, or do anything.
  if (types.isPromise(result)) {
    try { Promise.prototype.then.call(result, undefined, () => {}) } catch { /* a hostile species */ }
  }
  throw new TypeError(`${where} callback returned a promise; its writes were undone. ` +
    'Transactions are synchronous: do the async work before or after it')
}

/** Constructs only through newTransaction(): the constructor is not API. */
const INTERNAL = Symbol('lmdb-txn internal')

export class Transaction extends ReadView {
  readonly #native: NativeTxn
  /** set when a callback form (transactionSync, transaction, …) owns the commit */
  readonly #managedBy: string | undefined
  readonly #store: Store

  readonly #onCommit: (() => void) | undefined

  private constructor (key: symbol, native: NativeTxn, managedBy: string | undefined, store: Store, onCommit?: () => void) {
    if (key !== INTERNAL) throw new TypeError('Transaction has no public constructor: use store.begin() or a callback form')
    super(native)
    this.#native = native
    this.#managedBy = managedBy
    this.#store = store
    this.#onCommit = onCommit
  }

  /**
   * The store handle it belongs to (also inside callbacks). Holding it keeps
   * the handle reachable: collecting it would close the store under a live
   * transaction.
   */
  get store (): Store { return this.#store }

  /**
   * True while the native transaction is open: until commit, abort or a
   * failure that ended it. Over its limits it stays active, for abort() only.
   */
  get active (): boolean { return this.#native.active }

  write (path: string, value: Uint8Array | string): void { this.#native.write(path, value) }
  makeGroup (path: string): void { this.#native.makeGroup(path) }
  /** `path` becomes a link to `target` (argument order of fs.symlink). */
  makeLink (target: string, path: string): void { this.#native.makeLink(target, path) }

  /** Deletes the entry at `path` (and its subtree when recursive); returns whether anything existed. */
  remove (path: string, opts?: RemoveOptions): boolean {
    return this.#native.remove(path, booleanOption(methodOptions(opts, ['recursive'], 'remove()'), 'recursive', false))
  }

  /** Writes a whole message (group, fields, sub-groups, links) in this transaction. */
  writeMessage (message: Message): void {
    applyMessage(this.#native, planMessage(message))
  }

  /**
   * A savepoint (LMDB child transaction): if `fn` throws, only its own
   * writes are undone and the error is rethrown.
   */
  transaction<T> (fn: (txn: Transaction) => T): T {
    requireSyncCallback(fn, 'transaction()')
    this.#native.beginChild()
    let result: T
    try {
      result = fn(this)
    } catch (err) {
      this.#native.abortChild()
      throw err
    }
    if (isThenable(result)) {
      this.#native.abortChild()
      rejectThenable(result, 'transaction()')
    }
    try {
      this.#native.commitChild()
    } catch (err) {
      this.#native.abortChild() // never leave the savepoint open (e.g. TransactionTooLargeError)
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
    const seq = this.#native.commit()
    if (seq !== undefined) this.#onCommit?.()
    return seq
  }

  abort (): void {
    this.#requireUnmanaged('abort')
    this.#native.abort()
  }

  #requireUnmanaged (method: string): void {
    if (this.#managedBy !== undefined) {
      throw new TypeError(`${method}() cannot be called on a transaction managed by ${this.#managedBy}: ` +
        'return from the callback to commit, throw to abort')
    }
  }

  /** `using txn = store.begin()` aborts it if the block leaves it uncommitted. */
  [Symbol.dispose] (): void {
    if (this.#managedBy !== undefined) return
    try {
      this.#native.abort()
    } catch (err) {
      if (!(err instanceof TransactionFinishedError) && !(err instanceof StoreClosedError)) throw err
    }
  }
}

type TransactionConstructor = new (key: symbol, native: NativeTxn, managedBy: string | undefined, store: Store, onCommit?: () => void) => Transaction

/**
 * @internal The one way to make a Transaction (store.ts); `managedBy` names
 * the callback form that owns the commit; `onCommit` runs after a commit()
 * that recorded a change (watch() wake-ups).
 */
export function newTransaction (native: NativeTxn, managedBy: string | undefined, store: Store, onCommit?: () => void): Transaction {
  return new (Transaction as unknown as TransactionConstructor)(INTERNAL, native, managedBy, store, onCommit)
}
