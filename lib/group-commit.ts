/**
 * store.transaction(fn): group commit (SPEC §6; design in docs/group-commit.md).
 *
 * Callbacks queue on the JS thread. One batch at a time asks the native
 * writer thread for an LMDB write txn; when it is ready, every callback
 * queued so far (up to MAX_BATCH) runs here, in order, each in an isolated
 * savepoint; the txn then goes back to the writer thread, which commits and
 * syncs it off the JS thread and reports back. Promises resolve when their
 * batch is durable per the store's durability.
 */
import type { NativeStore, NativeTxn } from './native'
import { MAX_GROWTH_RETRIES, isThenable, rejectThenable, requireSyncCallback } from './transaction'
import { MapFullError, StoreClosedError } from './errors'

interface Pending {
  seq: number
  fn: (native: NativeTxn) => unknown // Store wraps the caller's fn: it builds the Transaction
  /** resolve with { value, seq: change-log seq } instead of the value */
  withSeq: boolean
  changeSeq?: number
  recorded?: boolean
  resolve: (value: any) => void
  reject: (err: unknown) => void
  outcome?: { ok: true, value: unknown } | { ok: false, error: unknown }
}

type GroupEvent =
  | { type: 'ready', id: number, txn: NativeTxn }
  | { type: 'beginFailed' | 'syncFailed', id: number, error: Error }
  | { type: 'committed' | 'synced', id: number }
  | { type: 'commitFailed', id: number, error: Error, grown: boolean }
  | { type: 'aborted', id: number, grown: boolean, retryable: boolean }

/** Callbacks committed together at most; the rest go to the next batch. */
export const MAX_BATCH = 1024
/** Growth postponed by another thread's open txn: a few short retries only. */
const MAX_POSTPONED_RETRIES = 3

const closedError = (): StoreClosedError =>
  new StoreClosedError('the store was closed before this transaction committed; nothing of it was written')

export class GroupCommit {
  readonly #native: NativeStore
  readonly #limits: { maxOps: number, maxBytes: number }
  readonly #onCommitted: () => void
  #started = false
  #queue: Pending[] = []
  #seq = 0
  #settledSeq = 0                 // every callback with seq <= this has settled
  #beginning = false              // a BEGIN is outstanding or its txn is being used
  #running = false                // callbacks of a ready batch are running (re-entrant transaction())
  #pollTimer: NodeJS.Timeout | undefined
  #nextId = 1
  #inflight = new Map<number, Pending[]>()
  #aborting: { batch: Pending[], error: unknown, attempt: number } | undefined
  #growthRetries = 0
  #postponed = 0
  #flushes = new Map<number, { resolve: () => void, reject: (e: unknown) => void }>()
  #settleWaiters: Array<{ seq: number, resolve: () => void }> = []

  constructor (native: NativeStore, limits: { maxOps: number, maxBytes: number }, onCommitted: () => void) {
    this.#native = native
    this.#onCommitted = onCommitted
    this.#limits = limits
  }

  enqueue<T> (fn: (native: NativeTxn) => T, withSeq = false): Promise<T> {
    try {
      requireSyncCallback(fn, 'transaction()')
      if (!this.#native.isOpen) throw new StoreClosedError('the store is closed')
    } catch (err) {
      return Promise.reject(err)
    }
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ seq: ++this.#seq, withSeq, fn, resolve, reject })
      this.#pump()
    })
  }

  /** Resolves once every transaction() called before it has settled, and all commits so far are on disk. */
  async flush (): Promise<void> {
    const target = this.#seq
    if (this.#settledSeq < target) {
      await new Promise<void>((resolve) => this.#settleWaiters.push({ seq: target, resolve }))
    }
    if (!this.#native.isOpen) return
    this.#start()
    const id = this.#nextId++
    await new Promise<void>((resolve, reject) => {
      this.#flushes.set(id, { resolve, reject })
      this.#native.groupFlush(id)
      this.#updateRef()
    })
  }

  /** close(): what has not been handed to the writer is rejected; it wrote nothing. */
  close (): void {
    if (this.#pollTimer !== undefined) clearTimeout(this.#pollTimer)
    this.#pollTimer = undefined
    const queue = this.#queue
    this.#queue = []
    this.#beginning = false
    if (this.#aborting !== undefined) queue.unshift(...this.#aborting.batch)
    this.#aborting = undefined
    for (const p of queue) p.outcome = { ok: false, error: closedError() }
    this.#settle(queue)
    // In-flight commits finish on the writer thread and still report.
  }

  #start (): void {
    if (this.#started) return
    this.#native.groupStart((event: GroupEvent) => this.#onEvent(event))
    this.#started = true
  }

  #pump (): void {
    if (this.#beginning || this.#running || this.#aborting !== undefined || this.#queue.length === 0 || this.#pollTimer !== undefined) return
    if (!this.#native.isOpen) return this.close()
    // A begin() transaction is open on this thread: queue behind it. (The
    // writer thread would wait for LMDB's lock, which is fine, but begin()
    // after it would then have to throw TransactionBusyError.)
    if (this.#native.writerBusy()) {
      this.#pollTimer = setTimeout(() => { this.#pollTimer = undefined; this.#pump() }, 1)
      return
    }
    this.#start()
    this.#beginning = true
    this.#native.groupBegin()
    this.#updateRef()
  }

  #onEvent (event: GroupEvent): void {
    switch (event.type) {
      case 'ready': this.#runBatch(event.txn); break
      case 'beginFailed': {
        this.#beginning = false
        const batch = this.#queue.splice(0, MAX_BATCH)
        for (const p of batch) p.outcome = { ok: false, error: event.error }
        this.#settle(batch)
        break
      }
      case 'committed': this.#finish(event.id, undefined, false); break
      case 'commitFailed': this.#finish(event.id, event.error, event.grown); break
      case 'aborted': {
        const aborting = this.#aborting
        this.#aborting = undefined
        if (aborting === undefined) break
        const mapFull = aborting.error instanceof MapFullError
        if (mapFull && (event.grown || (event.retryable && this.#postponed < MAX_POSTPONED_RETRIES)) && aborting.attempt < MAX_GROWTH_RETRIES) {
          if (!event.grown) this.#postponed++
          this.#growthRetries = aborting.attempt + 1
          this.#queue.unshift(...aborting.batch) // run the whole batch again, same order
          if (!event.grown) this.#retryLater() // growth was postponed by another thread's open txn
        } else {
          if (mapFull && event.retryable) aborting.error = new MapFullError('the map is full and could not grow while other transactions or snapshots of this process stayed open; nothing in this batch was written', true)
          for (const p of aborting.batch) p.outcome = { ok: false, error: aborting.error }
          this.#settle(aborting.batch)
        }
        break
      }
      case 'synced':
      case 'syncFailed': {
        const f = this.#flushes.get(event.id)
        this.#flushes.delete(event.id)
        if (event.type === 'syncFailed') f?.reject(event.error)
        else f?.resolve()
        break
      }
    }
    this.#pump()
    this.#updateRef()
  }

  #runBatch (native: NativeTxn): void {
    this.#running = true
    try {
      this.#runBatchInner(native)
    } finally {
      this.#running = false
    }
  }

  #runBatchInner (native: NativeTxn): void {
    this.#beginning = false
    const batch = this.#queue.splice(0, MAX_BATCH)
    if (batch.length === 0 || !this.#native.isOpen) {
      this.#native.groupAbort(native)
      return
    }
    let ended: unknown
    let records = 0
    for (const p of batch) {
      p.recorded = false
      p.changeSeq = undefined
      if (!native.active) break
      native.beginChild(true, this.#limits.maxOps, this.#limits.maxBytes)
      try {
        const value = p.fn(native)
        if (isThenable(value)) rejectThenable(value, 'transaction()')
        p.recorded = native.commitChild()
        if (p.recorded) records++
        p.outcome = { ok: true, value }
      } catch (error) {
        native.abortChild()
        p.outcome = { ok: false, error }
        if (!native.active) ended = error
      }
    }
    // One change record per callback that changed something, in call order,
    // in the batch's own LMDB transaction (native/change_log.cc).
    if (records > 0 && native.active) {
      try {
        let seq = native.logGroup()
        for (const p of batch) if (p.recorded) p.changeSeq = seq++
      } catch (error) {
        if (native.active) throw error
        ended = error
      }
    }
    if (!this.#native.isOpen) {
      // a callback closed the store: the writer aborted the batch
      for (const p of batch) p.outcome = { ok: false, error: closedError() }
      this.#settle(batch)
      return
    }
    if (!native.active) {
      // MDB_MAP_FULL (or another LMDB failure) ended the shared txn: the
      // writer aborts it, grows the map and tells us ('aborted').
      const error = ended instanceof MapFullError && !ended.retryable
        ? new MapFullError('the map is full at maxMapSize; nothing in this batch was written', false)
        : ended
      this.#aborting = { batch, error, attempt: this.#growthRetries }
      this.#native.groupAbort(native) // no-op if the failure already handed it back
      return
    }
    const id = this.#nextId++
    this.#inflight.set(id, batch)
    this.#native.groupCommit(native, id)
  }

  #finish (id: number, error: Error | undefined, grown: boolean): void {
    const batch = this.#inflight.get(id)
    this.#inflight.delete(id)
    if (batch === undefined) return
    if (error === undefined) {
      this.#growthRetries = 0
      this.#postponed = 0
      if (batch.some((p) => p.changeSeq !== undefined)) this.#onCommitted()
      this.#settle(batch)
      return
    }
    const postponed = !grown && error instanceof MapFullError && error.retryable && this.#postponed++ < MAX_POSTPONED_RETRIES
    if ((grown || postponed) && this.#growthRetries < MAX_GROWTH_RETRIES && this.#native.isOpen) {
      this.#growthRetries++
      for (const p of batch) p.outcome = undefined
      this.#queue.unshift(...batch)
      if (postponed) this.#retryLater()
      return
    }
    for (const p of batch) p.outcome = { ok: false, error }
    this.#settle(batch)
  }

  #settle (batch: Pending[]): void {
    for (const p of batch) {
      const o = p.outcome!
      if (o.ok) p.resolve(p.withSeq ? { value: o.value, seq: p.changeSeq } : o.value)
      else p.reject(o.error)
      if (p.seq > this.#settledSeq) this.#settledSeq = p.seq
    }
    if (this.#queue.length === 0 && this.#inflight.size === 0 && this.#aborting === undefined) {
      this.#settledSeq = this.#seq
    }
    const waiters = this.#settleWaiters
    this.#settleWaiters = waiters.filter((w) => w.seq > this.#settledSeq)
    for (const w of waiters) if (w.seq <= this.#settledSeq) w.resolve()
  }

  #retryLater (): void {
    if (this.#pollTimer !== undefined) clearTimeout(this.#pollTimer)
    this.#pollTimer = setTimeout(() => { this.#pollTimer = undefined; this.#pump() }, 2 * this.#growthRetries)
  }

  #updateRef (): void {
    if (!this.#started) return
    const busy = this.#beginning || this.#inflight.size > 0 || this.#flushes.size > 0 || this.#aborting !== undefined
    this.#native.groupRef(busy)
  }
}
