/**
 * store.transaction(fn): group commit. Callbacks queued in one event-loop
 * turn run in order, each in an isolated savepoint (own limits, own
 * failure) of one shared LMDB write transaction, which then commits once.
 *
 * This version commits on the JS thread after the turn ends (see
 * docs/group-commit.md for what that costs and what replaces it).
 */
import type { NativeStore, NativeTxn } from './native'
import { Transaction, isThenable, requireSyncCallback } from './transaction'
import { StoreClosedError } from './errors'

interface Pending {
  fn: (txn: Transaction) => unknown
  resolve: (value: any) => void
  reject: (err: unknown) => void
  outcome?: { ok: true, value: unknown } | { ok: false, error: unknown }
}

/** Callbacks committed together at most; the rest go to the next batch. */
export const MAX_BATCH = 1024
const MAX_GROWTH_RETRIES = 64

export class GroupCommit {
  readonly #native: NativeStore
  #queue: Pending[] = []
  #scheduled = false
  #idle: Array<() => void> = []

  constructor (native: NativeStore) {
    this.#native = native
  }

  get pending (): number { return this.#queue.length }

  enqueue<T> (fn: (txn: Transaction) => T): Promise<T> {
    try {
      requireSyncCallback(fn, 'transaction()')
      if (!this.#native.isOpen) throw new StoreClosedError('the store is closed')
    } catch (err) {
      return Promise.reject(err)
    }
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ fn, resolve, reject })
      this.#schedule(0)
    })
  }

  /** Resolves once every callback queued before the call has settled. */
  drained (): Promise<void> {
    if (this.#queue.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  /** close(): callbacks not yet run are rejected; they wrote nothing. */
  rejectAll (): void {
    const queue = this.#queue
    this.#queue = []
    for (const p of queue) p.reject(new StoreClosedError('the store was closed before this transaction ran; nothing was written'))
    this.#wakeIdle()
  }

  #schedule (delayMs: number): void {
    if (this.#scheduled) return
    this.#scheduled = true
    const run = (): void => {
      this.#scheduled = false
      this.#run()
    }
    if (delayMs === 0) setImmediate(run)
    else setTimeout(run, delayMs)
  }

  #run (): void {
    if (this.#queue.length === 0) return
    if (!this.#native.isOpen) return this.rejectAll()
    // A begin() transaction is open on this thread: queue behind it.
    if (this.#native.writerBusy()) return this.#schedule(1)
    const batch = this.#queue.splice(0, MAX_BATCH)
    try {
      this.#commit(batch)
    } catch (err) {
      for (const p of batch) p.outcome = { ok: false, error: err }
    }
    for (const p of batch) {
      const outcome = p.outcome!
      if (outcome.ok) p.resolve(outcome.value)
      else p.reject(outcome.error)
    }
    if (this.#queue.length > 0) this.#schedule(0)
    else this.#wakeIdle()
  }

  #commit (batch: Pending[]): void {
    for (let attempt = 0; ; attempt++) {
      const native = this.#native.begin(Infinity, Infinity)
      const ended = this.#runCallbacks(native, batch)
      if (ended === undefined) {
        try {
          native.commit()
          return
        } catch (err) {
          if (!(native.mapFullGrown && attempt < MAX_GROWTH_RETRIES)) throw err
        }
      } else if (!(native.mapFullGrown && attempt < MAX_GROWTH_RETRIES)) {
        throw ended
      }
    }
  }

  /**
   * Runs each callback in its own savepoint. Returns the error that ended the
   * shared transaction (MDB_MAP_FULL or another LMDB failure), if one did.
   */
  #runCallbacks (native: NativeTxn, batch: Pending[]): unknown {
    for (const p of batch) {
      native.beginChild(true)
      try {
        const value = p.fn(new Transaction(native, 'transaction()'))
        if (isThenable(value)) {
          ;(value as PromiseLike<unknown>).then(undefined, () => {})
          throw new TypeError('transaction() callback returned a promise; its writes were undone. ' +
            'Transactions are synchronous: do the async work before or after it')
        }
        native.commitChild()
        p.outcome = { ok: true, value }
      } catch (error) {
        native.abortChild()
        p.outcome = { ok: false, error }
      }
      if (!native.active) return (p.outcome as { error: unknown }).error
    }
    return undefined
  }

  #wakeIdle (): void {
    const idle = this.#idle
    this.#idle = []
    for (const resolve of idle) resolve()
  }
}
