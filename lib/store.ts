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
import { decodeRecord, notifyCommitted, waitForCommit, type Change, type ChangeLogStat } from './changes'
import { readSeq, SYNC_KEYS, type ReplicaStat } from './sync-state'
import { kRawChanges, kRunSync, kSyncGet, kTransactionSeq } from './internal'
import { backup, type BackupOptions, type BackupResult } from './backup'

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
  /** The change log's extent; undefined when the log is off. */
  changeLog: ChangeLogStat | undefined
  /** Where this store stands as a replica; undefined if it never was one. */
  replica: ReplicaStat | undefined
}

export interface ChangesOptions {
  /** Only records with seq > after (default 0). */
  after?: number
  /** At most this many records. */
  limit?: number
}

export interface WatchOptions {
  /** Start after this seq (default: the last seq now, i.e. only new commits). */
  after?: number
  /** Aborting it ends the iteration cleanly. */
  signal?: AbortSignal
}

function seqOption (o: Record<string, unknown>, name: string, fallback: number): number {
  const v = o[name]
  if (v === undefined) return fallback
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new RangeError(`options.${name} must be a non-negative integer, got ${describe(v)}`)
  }
  return v
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
      maxLinkDepth: options.maxLinkDepth,
      changeLog: options.changeLog
    })
    // iterate() on a store reads every page from one snapshot of its own.
    super(native, () => {
      const snap = native.snapshot()
      return { reader: snap, release: () => { if (snap.active) snap.abort() } }
    })
    this.path = path
    this.options = Object.freeze({ ...options, limits: Object.freeze({ ...options.limits }) })
    this.#native = native
    this.#group = new GroupCommit(this.#native, this.options.limits, () => notifyCommitted(path))
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
    return newTransaction(this.#native.begin(maxOps, maxBytes), undefined, this, () => notifyCommitted(this.path))
  }

  /**
   * Runs `fn` in one write transaction and commits when it returns; a throw
   * aborts and rethrows. `fn` may run again if the map had to grow.
   */
  transactionSync<T> (fn: (txn: Transaction) => T): T {
    requireSyncCallback(fn, 'transactionSync()')
    return this.#runSync(fn, 'transactionSync()').value
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

  /** @internal store.transaction(fn) that also tells the change-log seq it recorded (lib/sync). */
  [kTransactionSeq]<T> (fn: (txn: Transaction, native: NativeTxn) => T): Promise<{ value: T, seq: number | undefined }> {
    try {
      this.#requireWritable()
    } catch (err) {
      return Promise.reject(err)
    }
    return this.#group.enqueue((native) => fn(newTransaction(native, 'transaction()', this), native), true) as unknown as Promise<{ value: T, seq: number | undefined }>
  }

  /** @internal one write transaction with the native txn at hand (lmdb-txn load) */
  [kRunSync]<T> (fn: (txn: Transaction, native: NativeTxn) => T, where: string): T {
    return this.#runSync(fn, where).value
  }

  /** @internal a value of the `sync` database (replication state) */
  [kSyncGet] (key: Buffer): Buffer | undefined {
    return this.#native.syncGet(key)
  }

  /** @internal stored records with seq > after, undecoded (the wire payloads) */
  [kRawChanges] (after: number, limit: number): Array<{ seq: number, record: Buffer }> {
    const raw = this.#native.changes(after, limit)
    const out: Array<{ seq: number, record: Buffer }> = []
    for (let i = 0; i < raw.length; i += 2) out.push({ seq: raw[i] as number, record: raw[i + 1] as Buffer })
    return out
  }

  /** Records with seq > after, ascending (SPEC §11.1); [] when the log is off. */
  changes (options?: ChangesOptions): Change[] {
    const o = methodOptions(options, ['after', 'limit'], 'changes()')
    const after = seqOption(o, 'after', 0)
    const limit = seqOption(o, 'limit', Number.MAX_SAFE_INTEGER)
    const raw = this.#native.changes(after, limit)
    const out: Change[] = []
    for (let i = 0; i < raw.length; i += 2) out.push(decodeRecord(raw[i] as number, raw[i + 1] as Buffer))
    return out
  }

  /** Seq of the newest record (0 when none). */
  lastChangeSeq (): number {
    return this.#native.changeLogInfo().last ?? 0
  }

  /**
   * Committed records in order, as they commit: at once for this process's
   * commits, within 50 ms for other processes'. Ends when the loop breaks
   * or `signal` aborts.
   */
  async * watch (options?: WatchOptions): AsyncGenerator<Change, void, undefined> {
    const o = methodOptions(options, ['after', 'signal'], 'watch()')
    if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new TypeError(`options.signal must be an AbortSignal, got ${describe(o.signal)}`)
    const signal = o.signal as AbortSignal | undefined
    const aborted = (): boolean => signal?.aborted === true
    let cursor = seqOption(o, 'after', -1)
    if (cursor < 0) cursor = this.lastChangeSeq()
    while (!aborted() && this.active) {
      const batch = this.changes({ after: cursor, limit: 1000 })
      for (const change of batch) {
        if (aborted()) return
        cursor = change.seq
        yield change
      }
      if (batch.length > 0) continue
      if (this.lastChangeSeq() > cursor) continue
      await waitForCommit(this.path, signal)
    }
  }

  /** Drops records with seq <= upTo; seqs never restart. Returns how many went. */
  trimChanges (upTo: number): number {
    if (typeof upTo !== 'number' || !Number.isSafeInteger(upTo) || upTo < 0) {
      throw new RangeError(`upTo must be a non-negative integer, got ${describe(upTo)}`)
    }
    return this.#runSync((_txn, native) => native.trimChanges(upTo), 'trimChanges()').value
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
    const atomic = booleanOption(methodOptions(options, ['atomic'], 'batch()'), 'atomic', true)
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

  /**
   * A consistent hot copy of the whole store (one commit) into directory
   * `dest` as `dest/data.mdb`, written off the JS thread while writers run.
   * `dest` is created if missing; a data.mdb already there, the store's own
   * directory or an unwritable one is refused with BackupTargetError.
   * close() does not stop a running backup: it completes, and the
   * environment closes after it. See docs/api.md ("Backup").
   */
  backup (dest: string, options?: BackupOptions): Promise<BackupResult> {
    return backup(this.#native, this.path, dest, options)
  }

  stat (): StoreStat {
    const log = this.#native.changeLogInfo()
    const primary = this.#native.syncGet(Buffer.from(SYNC_KEYS.replicaPrimary))
    return {
      ...this.#native.stat(),
      path: this.path,
      durability: this.options.durability,
      readOnly: this.options.readOnly,
      lmdbVersion: addon.lmdbVersion,
      groupCommit: { ...this.#group.stats },
      changeLog: log.on ? { first: log.first!, last: log.last!, count: log.count! } : undefined,
      replica: primary === undefined
        ? undefined
        : { primary: primary.toString('hex'), appliedSeq: readSeq(this.#native.syncGet(Buffer.from(SYNC_KEYS.replicaApplied))) }
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

  /** One write transaction (callback forms); `seq` is the record it logged. */
  #runSync<T> (fn: (txn: Transaction, native: NativeTxn) => T, where: string): { value: T, seq: number | undefined } {
    const { maxOps, maxBytes } = this.options.limits
    for (let attempt = 0; ; attempt++) {
      const native = this.#native.begin(maxOps, maxBytes)
      let returnedThenable = false
      try {
        const value = fn(newTransaction(native, where, this), native)
        returnedThenable = isThenable(value)
        if (returnedThenable) rejectThenable(value, where)
        const seq = native.commit()
        if (seq !== undefined) notifyCommitted(this.path)
        return { value, seq }
      } catch (err) {
        // MDB_MAP_FULL ended the transaction and the map grew: run it again,
        // unless fn returned a promise (that is the caller's mistake, not
        // the map's: running it again would only repeat it).
        if (native.mapFullGrown && !returnedThenable && attempt < MAX_GROWTH_RETRIES) continue
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
