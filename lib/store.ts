/**
 * open() and Store. Reads are thin calls into native code; each sees the
 * latest commit of any process. Writes go through a Transaction.
 */
import * as fs from 'node:fs'
import * as nodePath from 'node:path'
import { addon, type NativeStat, type NativeStore, type NativeTxn } from './native'
import { booleanOption, describe, durabilityFlags, methodOptions, resolveOptions, type Durability, type OpenOptions, type ResolvedOptions } from './options'
import { ReadView } from './reader'
import { MAX_GROWTH_RETRIES, newTransaction, isThenable, rejectThenable, requireSyncCallback, type Transaction } from './transaction'
import { newSnapshot, type Snapshot } from './snapshot'
import { applyMessage, planMessage, type Message } from './message'
import { applyBatch, batchError, checkBatch, type BatchOp, type BatchOptions, type BatchResult } from './batch'
import { ReadOnlyError, StoreClosedError, TransactionTooLargeError } from './errors'
import { GroupCommit, type GroupCommitStats } from './group-commit'

// Handles still open on this thread. At 'exit' (before Node stops worker
// threads) they are closed, so a begin() left open here cannot keep a
// worker — waiting for LMDB's writer lock — from exiting: that would hang.
const openStores = new Set<WeakRef<Store>>()
const forgotten = new FinalizationRegistry<WeakRef<Store>>((ref) => openStores.delete(ref))
let exitHook = false
function track (store: Store): WeakRef<Store> {
  const ref = new WeakRef(store)
  openStores.add(ref)
  forgotten.register(store, ref)
  if (!exitHook) {
    exitHook = true
    process.once('exit', () => {
      for (const r of openStores) r.deref()?.close()
    })
  }
  return ref
}

export interface StoreStat extends NativeStat {
  path: string
  durability: Durability
  readOnly: boolean
  lmdbVersion: string
  /** store.transaction() batches so far and their busy time per thread (docs/group-commit.md). */
  groupCommit: GroupCommitStats
}

/** Constructs only through open(): the constructor is not API. */
const INTERNAL = Symbol('lmdb-txn internal')

/** The resolved options of a handle, frozen all the way down. */
export type StoreOptions = Readonly<Omit<ResolvedOptions, 'limits'>> & { readonly limits: Readonly<ResolvedOptions['limits']> }

export class Store extends ReadView {
  /** Absolute path of the store's directory. */
  readonly path: string
  /** What this handle enforces; frozen, so it cannot change under it. */
  readonly options: StoreOptions
  readonly #native: NativeStore
  readonly #group: GroupCommit
  readonly #ref: WeakRef<Store>

  private constructor (key: symbol, path: string, options: ResolvedOptions) {
    if (key !== INTERNAL) throw new TypeError('Store has no public constructor: use open()')
    const native = new addon.NativeStore(path, {
      readOnly: options.readOnly,
      mapSize: options.mapSize,
      maxMapSize: options.maxMapSize,
      maxReaders: options.maxReaders,
      durabilityFlags: durabilityFlags(options.durability),
      maxLinkDepth: options.maxLinkDepth
    })
    super(native)
    this.path = path
    this.options = Object.freeze({ ...options, limits: Object.freeze({ ...options.limits }) })
    this.#native = native
    this.#group = new GroupCommit(this.#native, this.options.limits)
    this.#ref = track(this)
  }

  /** True until close(). */
  get active (): boolean { return this.#native.isOpen }

  /** A consistent view of the latest commit; close() it when done. */
  snapshot (): Snapshot { return newSnapshot(this.#native.snapshot(), this) }

  /**
   * Opens a native write transaction held across calls. Throws
   * TransactionBusyError if this thread already holds one; blocks while
   * another thread or process does.
   */
  begin (): Transaction {
    const { maxOps, maxBytes } = this.options.limits
    return newTransaction(this.#native.begin(maxOps, maxBytes), undefined, this)
  }

  /**
   * Runs `fn` in one write transaction and commits when it returns; a throw
   * aborts and rethrows. `fn` may run again if the map had to grow.
   */
  transactionSync<T> (fn: (txn: Transaction) => T): T {
    requireSyncCallback(fn, 'transactionSync()')
    return this.#runSync(fn, 'transactionSync()')
  }

  /** Group commit: resolves with fn's result once its batch is durable. */
  transaction<T> (fn: (txn: Transaction) => T): Promise<T> {
    try {
      requireSyncCallback(fn, 'transaction()')
      this.#requireWritable()
    } catch (err) {
      return Promise.reject(err)
    }
    return this.#group.enqueue((native) => fn(newTransaction(native, 'transaction()', this)))
  }

  /** Writes a whole message in one transaction; validated before it opens. */
  writeMessage (message: Message): void {
    const plan = planMessage(message)
    const { maxOps, maxBytes } = this.options.limits
    if (plan.steps.length > maxOps) {
      throw new TransactionTooLargeError(`the message has ${plan.steps.length} entries, more than limits.maxOps = ${maxOps}`)
    }
    if (plan.bytes > maxBytes) {
      throw new TransactionTooLargeError(`the message writes ${plan.bytes} bytes, more than limits.maxBytes = ${maxBytes}`)
    }
    this.#runSync((_txn, native) => applyMessage(native, plan), 'writeMessage()')
  }

  /** Applies ops in order in one transaction; see docs/api.md for the lanes. */
  batch (ops: BatchOp[], options?: BatchOptions): BatchResult {
    this.#requireWritable()
    const atomic = booleanOption(methodOptions(options), 'atomic', true)
    const checked = checkBatch(ops, this.options.limits)
    if (checked.length === 0) return { committed: 0, existed: [] }
    const existed: boolean[] = []
    let failed: { index: number, cause: Error } | undefined
    let started = false
    try {
      this.#runSync((_txn, native) => {
        started = true
        existed.length = 0
        failed = applyBatch(native, checked, checked.length, existed)
        if (failed !== undefined && atomic) throw batchError(ops, failed.index, 0, failed.cause)
      }, 'batch()')
    } catch (err) {
      // No transaction (read-only, busy, closed), or the BatchError thrown above.
      if (!started || (failed !== undefined && atomic)) throw err
      // The transaction itself failed (e.g. the map is full at maxMapSize).
      const index = existed.length
      if (atomic || index === 0) throw batchError(ops, index, 0, err)
      // Non-atomic: the ops before the failure still land.
      const prefix: boolean[] = []
      try {
        this.#runSync((_txn, native) => { prefix.length = 0; applyBatch(native, checked, index, prefix) }, 'batch()')
      } catch {
        throw batchError(ops, index, 0, err)
      }
      throw batchError(ops, index, index, err)
    }
    if (failed !== undefined) throw batchError(ops, failed.index, failed.index, failed.cause)
    return { committed: checked.length, existed }
  }

  /**
   * Resolves when every transaction() called before it has settled and
   * everything committed so far is on disk (the sync runs off the JS thread).
   */
  flush (): Promise<void> {
    if (!this.#native.isOpen) return Promise.reject(new StoreClosedError('the store is closed'))
    if (this.options.readOnly) return Promise.resolve() // nothing is ever written through it
    return this.#group.flush()
  }

  stat (): StoreStat {
    return {
      ...this.#native.stat(),
      path: this.path,
      durability: this.options.durability,
      readOnly: this.options.readOnly,
      lmdbVersion: addon.lmdbVersion,
      groupCommit: { ...this.#group.stats }
    }
  }

  /**
   * Closes this handle. An open transaction or snapshot of it is aborted;
   * queued transaction() callbacks are rejected with StoreClosedError.
   * The environment closes when the last handle of the directory does.
   */
  close (): void {
    openStores.delete(this.#ref)
    this.#group.close()
    this.#native.close()
  }

  [Symbol.dispose] (): void { this.close() }

  /** For write forms that may not reach the native begin (an empty batch, a queued transaction()). */
  #requireWritable (): void {
    if (!this.#native.isOpen) throw new StoreClosedError('the store is closed')
    if (this.options.readOnly) throw new ReadOnlyError('the store was opened readOnly')
  }

  #runSync<T> (fn: (txn: Transaction, native: NativeTxn) => T, where: string): T {
    const { maxOps, maxBytes } = this.options.limits
    for (let attempt = 0; ; attempt++) {
      const native = this.#native.begin(maxOps, maxBytes)
      try {
        const result = fn(newTransaction(native, where, this), native)
        if (isThenable(result)) rejectThenable(result, where)
        native.commit()
        return result
      } catch (err) {
        // MDB_MAP_FULL ended the transaction and the map grew: run it again.
        if (native.mapFullGrown && attempt < MAX_GROWTH_RETRIES) continue
        try { native.abort() } catch { /* already ended */ }
        throw err
      }
    }
  }
}

/** Opens (creating unless readOnly) the store in directory `path`. */
export function open (path: string, options?: OpenOptions): Store {
  if (typeof path !== 'string' || path === '') throw new TypeError(`path must be a non-empty string, got ${describe(path)}`)
  if (path.includes('\0')) throw new TypeError('path must not contain a NUL byte')
  const resolved = resolveOptions(options)
  const dir = nodePath.resolve(path)
  if (!resolved.readOnly) fs.mkdirSync(dir, { recursive: true })
  return new (Store as unknown as new (key: symbol, path: string, options: ResolvedOptions) => Store)(INTERNAL, dir, resolved)
}
