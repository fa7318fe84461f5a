/**
 * store.transaction(fn): group commit (SPEC §6; design in docs/group-commit.md).
 *
 * Callbacks run on the JS thread, in call order, without touching LMDB: their
 * writes are encoded into the batch's op buffer (native/group_ops.h) and the
 * whole buffer goes to the native writer thread in one command, which applies
 * it to one LMDB write txn and commits it while the JS thread already runs the
 * next batch's callbacks. One event comes back per batch; promises resolve
 * when their batch is durable per the store's durability.
 *
 * A callback that reads needs its batch's earlier writes in LMDB: the writer
 * begins the batch txn (after the commit in flight) and parks; the JS thread
 * applies the pending ops and reads (batch.view()). Its own ops go into a
 * child txn, so a throw still undoes only its own writes.
 */
import { addon, type BulkResult, type EntryType, type NativeStore, type NativeTxn } from './native'
import { isThenable, rejectThenable, requireSyncCallback } from './transaction'
import { MapFullError, StoreClosedError, TransactionFinishedError, TransactionTooLargeError } from './errors'

/** Callbacks committed together at most; the rest go to the next batch. */
export const MAX_BATCH = 1024
/** A batch's op buffer stops taking callbacks past this size. */
const MAX_BATCH_BYTES = 64 * 1024 * 1024
/**
 * The next batch reuses the last one's op buffer up to this size: a fresh
 * 64 KiB buffer grown to a batch's size each time cost the JS turn about a
 * fifth of its time (allocating, copying on growth, external-memory GC). A
 * rare huge batch is not kept alive for the store's lifetime.
 */
const MAX_SPARE_BYTES = 4 * 1024 * 1024
/** Each growth doubles the map: this bounds attempts, not sizes. */
const MAX_REGROWS = 64

// Op kinds of the buffer (ChangeOpKind, native/change_log.h; native/group_ops.h).
const OP_WRITE = 1
const OP_GROUP = 2
const OP_LINK = 3
const OP_REMOVE = 4
const OP_REMOVE_RECURSIVE = 5

// A path already in normal form (SPEC §2) and ASCII is copied as it is, in
// one pass that also checks it; anything else goes through the native
// normaliser, the one place the rule lives, which also throws the typed
// error.
const SLASH = 0x2f
const DOT = 0x2e
/** Writes `s` at `at` if it is a normal ASCII key; returns its length, or -1. */
function writeNormalAscii (buf: Buffer, at: number, s: string): number {
  const n = s.length
  if (n === 0 || n > 511) return -1
  let segStart = 0
  for (let i = 0; i <= n; i++) {
    const c = i < n ? s.charCodeAt(i) : SLASH
    if (c === SLASH) {
      const len = i - segStart
      if (len === 0) return -1 // empty segment: a leading, trailing or doubled '/'
      if (s.charCodeAt(segStart) === DOT && (len === 1 || (len === 2 && s.charCodeAt(segStart + 1) === DOT))) return -1
      segStart = i + 1
      if (i === n) break
    } else if (c === 0 || c > 0x7f) {
      return -1
    }
    buf[at + i] = c
  }
  return n
}

function isBytes (value: unknown): value is Uint8Array {
  return value instanceof Uint8Array ||
    (ArrayBuffer.isView(value) && Object.prototype.toString.call(value) === '[object Uint8Array]')
}

/** The encoded ops of one batch, callback after callback. */
class OpBuffer {
  buf = Buffer.allocUnsafe(64 * 1024)
  len = 0

  #reserve (n: number): void {
    if (this.len + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.len + n) size *= 2
    const next = Buffer.allocUnsafe(size)
    this.buf.copy(next, 0, 0, this.len)
    this.buf = next
  }

  #u32 (at: number, v: number): void {
    const b = this.buf
    b[at] = v & 0xff
    b[at + 1] = (v >>> 8) & 0xff
    b[at + 2] = (v >>> 16) & 0xff
    b[at + 3] = v >>> 24
  }

  /** Appends a normalised path (length-prefixed); returns its UTF-8 length. */
  #path (path: unknown, argName: string): number {
    if (typeof path === 'string') this.#reserve(4 + path.length * 3)
    const at = this.len + 4
    let n = typeof path === 'string' ? writeNormalAscii(this.buf, at, path) : -1
    if (n < 0) {
      const key = addon.normalizePath(path, argName)
      this.#reserve(4 + key.length * 3)
      n = this.buf.write(key, at, 'utf8')
    }
    this.#u32(this.len, n)
    this.len = at + n
    return n
  }

  /** Appends kind + path; returns the path's UTF-8 length. */
  head (kind: number, path: unknown): number {
    this.#reserve(1)
    this.buf[this.len++] = kind
    return this.#path(path, 'path')
  }

  /** Appends a link target (a path, length-prefixed); returns its length. */
  target (path: unknown): number { return this.#path(path, 'target') }

  /** Appends a length-prefixed value; returns its byte length. */
  blob (value: Uint8Array | string): number {
    let n: number
    if (typeof value === 'string') {
      this.#reserve(4 + value.length * 3)
      n = this.buf.write(value, this.len + 4, 'utf8')
    } else {
      this.#reserve(4 + value.length)
      this.buf.set(value, this.len + 4)
      n = value.length
    }
    this.#u32(this.len, n)
    this.len += 4 + n
    return n
  }
}

interface Pending {
  seq: number
  fn: (native: NativeTxn) => unknown // Store wraps the caller's fn: it builds the Transaction
  /** resolve with { value, seq: change-log seq } instead of the value */
  withSeq: boolean
  changeSeq?: number
  resolve: (value: any) => void
  reject: (err: unknown) => void
  outcome?: { ok: true, value: unknown } | { ok: false, error: unknown }
  settled?: boolean
}

type GroupEvent =
  | { type: 'committed', gen: number, dropped: Array<[number, Error]>, applyMs: number, commitMs: number, firstSeq: number }
  | { type: 'failed', gen: number, error: Error }
  | { type: 'synced', id: number }
  | { type: 'syncFailed', id: number, error: Error }

/** Per-batch busy time, summed (store.stat().groupCommit). */
export interface GroupCommitStats {
  batches: number
  callbacks: number
  /** JS thread: running callbacks and encoding their ops. */
  jsMs: number
  /** Writer thread: applying ops to the LMDB txn (under LMDB's lock). */
  writerApplyMs: number
  /** Writer thread: LMDB commit, syncs included. */
  writerCommitMs: number
  /** Batches whose callbacks read (the writer held the txn while they ran). */
  heldBatches: number
}

const closedError = (): StoreClosedError =>
  new StoreClosedError('the store was closed before this transaction committed; nothing of it was written')

/** One batch: its op buffer, its callbacks and, if one read, the view of its txn. */
class Batch {
  readonly ops: OpBuffer
  readonly ends: number[] = []           // slice end of each callback in `committed`
  readonly committed: Pending[] = []     // callbacks whose ops are in the buffer
  readonly all: Pending[] = []           // every callback of the batch, in order
  view: NativeTxn | undefined            // the batch txn, held by the writer for reads
  held = false                           // a view was held at some point
  applied = 0                            // ops applied to the view's innermost level
  levels = 0                             // child txns open for marks[0..levels-1]
  marks: number[] = []                   // the running callback's start, then its savepoints

  constructor (readonly native: NativeStore, ops: OpBuffer | undefined) {
    this.ops = ops ?? new OpBuffer()
    this.ops.len = 0
  }

  get full (): boolean { return this.all.length >= MAX_BATCH || this.ops.len >= MAX_BATCH_BYTES }

  /** The batch txn with every op so far applied (the running callback's in child txns). */
  view_ (): NativeTxn {
    for (let attempt = 0; ; attempt++) {
      try {
        if (this.view === undefined) {
          this.view = this.native.groupHold(false)
          this.held = true
          this.applied = 0
          this.levels = 0
        }
        const view = this.view
        while (this.levels < this.marks.length) {
          this.#apply(view, this.marks[this.levels])
          view.beginChild()
          this.levels++
        }
        this.#apply(view, this.ops.len)
        return view
      } catch (err) {
        if (err instanceof MapFullError && err.retryable && this.view !== undefined && attempt < MAX_REGROWS) {
          // Grow and apply the buffer again: nothing runs twice.
          this.applied = 0
          this.levels = 0
          this.view = undefined
          this.view = this.native.groupHold(true) // throws (and releases) when it cannot grow
          continue
        }
        this.release()
        throw err
      }
    }
  }

  #apply (view: NativeTxn, to: number): void {
    if (to > this.applied) {
      view.applyOps(this.ops.buf, this.applied, to)
      this.applied = to
    }
  }

  /** The writer aborts the held txn; the ops stay and are applied at commit. */
  release (): void {
    this.view = undefined
    this.applied = 0
    this.levels = 0
    this.native.groupRelease()
  }

  pushMark (): void { this.marks.push(this.ops.len) }

  /** Ends the innermost savepoint: keep its ops, or drop them. */
  popMark (keep: boolean): void {
    if (this.marks.length <= 1) return
    const i = this.marks.length - 1
    const mark = this.marks.pop()!
    if (this.levels > i) {
      this.levels--
      try {
        if (keep) this.view!.commitChild()
        else this.view!.abortChild()
      } catch (err) {
        this.release()
        throw err
      }
      if (!keep) this.applied = mark
    }
    if (!keep) {
      this.ops.len = mark
      if (this.applied > mark) this.applied = mark
    }
  }

  run (p: Pending, limits: { maxOps: number, maxBytes: number }): void {
    const start = this.ops.len
    this.marks = [start]
    this.levels = 0
    const txn = new CallbackTxn(this, limits)
    let outcome: Pending['outcome']
    try {
      const value = p.fn(txn)
      if (isThenable(value)) rejectThenable(value, 'transaction()')
      txn.throwIfFailed() // a failure recorded natively wins over a caught one
      outcome = { ok: true, value }
    } catch (error) {
      outcome = { ok: false, error: txn.failure ?? error }
    }
    txn.finish()
    // Close the callback's child txns: merged into the batch, or undone.
    if (this.view !== undefined && this.levels > 0) {
      try {
        for (; this.levels > 0; this.levels--) {
          if (outcome.ok) this.view.commitChild()
          else this.view.abortChild()
        }
      } catch (error) {
        this.release()
        if (outcome.ok) outcome = { ok: false, error }
      }
    }
    this.marks = []
    if (!outcome.ok) {
      this.ops.len = start
      if (this.applied > start) this.applied = start
    }
    p.outcome = outcome
    this.all.push(p)
    if (outcome.ok) {
      this.ends.push(this.ops.len)
      this.committed.push(p)
    }
  }
}

/**
 * The native side of a callback's Transaction: writes are encoded into the
 * batch's buffer (limits counted here, per callback); reads go to the batch
 * view. Usable only while the callback runs.
 */
class CallbackTxn implements NativeTxn {
  readonly #batch: Batch
  readonly #maxOps: number
  readonly #maxBytes: number
  #ops = 0
  #bytes = 0
  #finished = false
  failure: Error | undefined // over a limit, or a native failure: the callback will reject with it

  constructor (batch: Batch, limits: { maxOps: number, maxBytes: number }) {
    this.#batch = batch
    this.#maxOps = limits.maxOps
    this.#maxBytes = limits.maxBytes
  }

  /** Over its limits it stays active (usable for abort only, §4); a native failure ends it. */
  get active (): boolean { return !this.#finished && !(this.failure instanceof MapFullError) }
  get mapFullGrown (): boolean { return false }
  finish (): void { this.#finished = true }

  throwIfFailed (): void {
    const f = this.failure
    if (f === undefined) return
    if (f instanceof TransactionTooLargeError) throw new TransactionTooLargeError(f.message)
    if (f instanceof MapFullError) throw new MapFullError(f.message, f.retryable)
    throw f
  }

  #usable (): void {
    if (this.#finished) throw new TransactionFinishedError('the transaction() callback has returned; its transaction is no longer usable')
    this.throwIfFailed()
  }

  #count (bytes: number, mark: number): void {
    const ops = this.#ops + 1
    const total = this.#bytes + bytes
    let over: string | undefined
    if (ops > this.#maxOps) over = `more than limits.maxOps = ${this.#maxOps} operations`
    else if (total > this.#maxBytes) over = `more than limits.maxBytes = ${this.#maxBytes} bytes`
    if (over !== undefined) {
      this.#batch.ops.len = mark
      this.failure = new TransactionTooLargeError(`the transaction exceeded its limits (${over}); it can only be aborted`)
      this.throwIfFailed()
    }
    this.#ops = ops
    this.#bytes = total
  }

  #view (): NativeTxn {
    try {
      return this.#batch.view_()
    } catch (err) {
      if (err instanceof MapFullError) this.failure = err
      throw err
    }
  }

  /** Appends one op (rolled back if encoding it throws) and counts it. */
  #encode (encode: (ops: OpBuffer) => number): void {
    const ops = this.#batch.ops
    const mark = ops.len
    let bytes: number
    try {
      bytes = encode(ops)
    } catch (err) {
      ops.len = mark
      throw err
    }
    this.#count(bytes, mark)
  }

  write (path: string, value: Uint8Array | string): void {
    this.#usable()
    this.#encode((ops) => {
      const k = ops.head(OP_WRITE, path)
      if (typeof value !== 'string' && !isBytes(value)) throw new TypeError('value must be a Uint8Array or a string')
      return k + 1 + ops.blob(value)
    })
  }

  makeGroup (path: string): void {
    this.#usable()
    this.#encode((ops) => ops.head(OP_GROUP, path) + 1)
  }

  makeLink (target: string, path: string): void {
    this.#usable()
    this.#encode((ops) => {
      const k = ops.head(OP_LINK, path)
      return k + 1 + ops.target(target)
    })
  }

  /** Its result (whether anything existed) is a read: the batch view answers it. */
  remove (path: string, recursive: boolean): boolean {
    this.#usable()
    const key = addon.normalizePath(path, 'path')
    const view = this.#view()
    const existed = view.hasKey(key) || (recursive && view.keys(key + '/', undefined, 1).length > 0)
    this.#encode((ops) => ops.head(recursive ? OP_REMOVE_RECURSIVE : OP_REMOVE, key))
    return existed
  }

  hasKey (path: string): boolean { this.#usable(); return this.#view().hasKey(path) }
  read (path: string): number | Buffer | undefined { this.#usable(); return this.#view().read(path) }
  readString (path: string): string | undefined { this.#usable(); return this.#view().readString(path) }
  readInto (path: string, target: Uint8Array): number | undefined { this.#usable(); return this.#view().readInto(path, target) }
  type (path: string, follow: boolean): EntryType | undefined { this.#usable(); return this.#view().type(path, follow) }
  exists (path: string): boolean { this.#usable(); return this.#view().exists(path) }
  resolve (path: string): string { this.#usable(); return this.#view().resolve(path) }
  list (path: string, after: string | undefined, limit: number | undefined): string[] {
    this.#usable()
    return this.#view().list(path, after, limit)
  }

  keys (prefix: string, after: string | undefined, limit: number | undefined): string[] {
    this.#usable()
    return this.#view().keys(prefix, after, limit)
  }

  readLink (path: string): string | undefined { this.#usable(); return this.#view().readLink(path) }
  readMessage (path: string, depth: number, follow: boolean): BulkResult | undefined { this.#usable(); return this.#view().readMessage(path, depth, follow) }
  entries (path: string, after: string | undefined, limit: number | undefined, values: boolean): BulkResult {
    this.#usable()
    return this.#view().entries(path, after, limit, values)
  }

  keyEntries (prefix: string, after: string | undefined, limit: number | undefined, values: boolean): BulkResult {
    this.#usable()
    return this.#view().keyEntries(prefix, after, limit, values)
  }

  readMany (paths: string[]): BulkResult { this.#usable(); return this.#view().readMany(paths) }

  beginChild (): void {
    this.#usable()
    this.#batch.pushMark()
  }

  commitChild (): void {
    this.#usable()
    this.#batch.popMark(true)
  }

  abortChild (): void {
    if (!this.#finished) this.#batch.popMark(false)
  }

  applyOps (): void { throw new TypeError('applyOps() is for batch views') }
  // The change log and the sync database are not reachable from a callback
  // (lib/sync writes its state with its own transactions).
  trimChanges (): number { throw new TypeError('trimChanges() is not available in a transaction() callback') }
  restoreChange (): void { throw new TypeError('restoreChange() is not available in a transaction() callback') }
  changes (): Array<number | Buffer> { throw new TypeError('changes() is not available in a transaction() callback') }
  syncGet (): Buffer | undefined { throw new TypeError('the sync database is not available in a transaction() callback') }
  syncPut (): void { throw new TypeError('the sync database is not available in a transaction() callback') }
  syncDelete (): boolean { throw new TypeError('the sync database is not available in a transaction() callback') }
  commit (): undefined { throw new TypeError('a transaction() callback commits by returning') }
  abort (): void { throw new TypeError('a transaction() callback aborts by throwing') }
}

export class GroupCommit {
  readonly #native: NativeStore
  readonly #limits: { maxOps: number, maxBytes: number }
  readonly #onCommitted: () => void
  // The writer's event callback reaches this object through `holder`:
  // strongly only while work is in flight, so an idle store that nobody
  // references can be collected (its finalizer stops the writer).
  readonly #holder: { strong: GroupCommit | undefined, weak: WeakRef<GroupCommit> }
  #started = false
  #closed = false
  #queue: Pending[] = []
  #seq = 0
  #settledSeq = 0                 // every callback with seq <= this has settled
  #building: Batch | undefined    // callbacks run, not yet handed to the writer
  #running: Pending | undefined   // the callback running now
  #inflight = new Map<number, Batch>()
  #scheduled = false
  #pollTimer: NodeJS.Timeout | undefined
  #lastHeld = false               // the last batch read: run the next one after the commit in flight
  #spareOps: OpBuffer | undefined // the last submitted batch's buffer (groupCommit copied it)
  #refd = false
  #nextFlushId = 1
  #flushes = new Map<number, { resolve: () => void, reject: (e: unknown) => void }>()
  #settleWaiters: Array<{ seq: number, resolve: () => void }> = []
  readonly stats: GroupCommitStats = { batches: 0, callbacks: 0, jsMs: 0, writerApplyMs: 0, writerCommitMs: 0, heldBatches: 0 }

  constructor (native: NativeStore, limits: { maxOps: number, maxBytes: number }, onCommitted: () => void) {
    this.#native = native
    this.#limits = limits
    this.#onCommitted = onCommitted
    this.#holder = { strong: undefined, weak: new WeakRef(this) }
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
      this.#schedule()
      this.#updateRef()
    })
  }

  /** Resolves once every transaction() called before it has settled, and all commits so far are on disk. */
  async flush (): Promise<void> {
    const target = this.#seq
    if (this.#settledSeq < target) {
      await new Promise<void>((resolve) => this.#settleWaiters.push({ seq: target, resolve }))
    }
    // close() while it waited: the commits it covers are not known to be on disk.
    if (!this.#native.isOpen) throw new StoreClosedError('the store was closed before flush() completed')
    this.#start()
    const id = this.#nextFlushId++
    await new Promise<void>((resolve, reject) => {
      this.#flushes.set(id, { resolve, reject })
      this.#native.groupFlush(id)
      this.#updateRef()
    })
  }

  /** close(): callbacks not handed to the writer are rejected; they wrote nothing. */
  close (): void {
    this.#closed = true
    if (this.#pollTimer !== undefined) clearTimeout(this.#pollTimer)
    this.#pollTimer = undefined
    const rejected = [...(this.#building?.all ?? []), ...(this.#running ? [this.#running] : []), ...this.#queue]
    this.#queue = []
    this.#building = undefined
    for (const p of rejected) p.outcome = { ok: false, error: closedError() }
    this.#settle(rejected)
    // Batches already handed over finish on the writer thread and still report.
    this.#updateRef()
  }

  #start (): void {
    if (this.#started) return
    const holder = this.#holder
    this.#native.groupStart((event: GroupEvent) => (holder.strong ?? holder.weak.deref())?.onEvent(event))
    this.#started = true
  }

  #schedule (): void {
    if (this.#scheduled || this.#running !== undefined || this.#closed) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      this.#run()
    })
  }

  #run (): void {
    if (this.#closed || this.#queue.length === 0 || this.#pollTimer !== undefined) return
    if (!this.#native.isOpen) return this.close()
    // A begin() transaction is open on this thread: a reading callback would
    // wait for the writer, which waits for that transaction. Queue behind it.
    if (this.#native.writerBusy()) {
      this.#pollTimer = setTimeout(() => { this.#pollTimer = undefined; this.#run() }, 1)
      return
    }
    // After a batch that read, the next one would block in its first read
    // until the commit in flight ends: wait for that event instead.
    if (this.#lastHeld && this.#inflight.size > 0) return
    if (this.#building?.full === true) return // the commit in flight reports first
    this.#start()
    if (this.#building === undefined) {
      this.#building = new Batch(this.#native, this.#spareOps)
      this.#spareOps = undefined
    }
    const batch = this.#building
    const t0 = performance.now()
    this.#native.groupRunning(true)
    try {
      while (this.#queue.length > 0 && !batch.full && !this.#closed) {
        const p = this.#queue.shift()!
        this.#running = p
        batch.run(p, this.#limits)
        this.#running = undefined
        if (this.#closed) this.#settle([p]) // close() inside it: already rejected
      }
    } finally {
      this.#running = undefined
      this.#native.groupRunning(false)
      this.stats.jsMs += performance.now() - t0
    }
    if (this.#closed) return
    // A held txn blocks every writer: hand it back now, never across turns.
    if (batch.view !== undefined || this.#inflight.size === 0) this.#submit()
    if (this.#queue.length > 0) this.#schedule()
    this.#updateRef()
  }

  #submit (): void {
    const batch = this.#building
    this.#building = undefined
    if (batch === undefined) return
    this.#lastHeld = batch.held
    if (batch.committed.length === 0) {
      if (batch.view !== undefined) batch.release()
      this.#recycle(batch.ops)
      this.#settle(batch.all)
      return
    }
    let gen: number
    try {
      gen = this.#native.groupCommit(batch.ops.buf, batch.ops.len, Uint32Array.from(batch.ends), batch.applied)
    } catch (error) {
      for (const p of batch.committed) p.outcome = { ok: false, error }
      this.#settle(batch.all)
      return
    } finally {
      this.#recycle(batch.ops)
    }
    batch.view = undefined
    this.stats.batches++
    this.stats.callbacks += batch.all.length
    if (batch.held) this.stats.heldBatches++
    this.#inflight.set(gen, batch)
  }

  /** A submitted batch's buffer (copied by groupCommit, never read again) serves the next batch. */
  #recycle (ops: OpBuffer): void {
    if (ops.buf.length <= MAX_SPARE_BYTES) this.#spareOps = ops
  }

  /** @internal the writer's events (through the holder) */
  onEvent (event: GroupEvent): void {
    switch (event.type) {
      case 'committed':
      case 'failed': {
        const batch = this.#inflight.get(event.gen)
        this.#inflight.delete(event.gen)
        // Hand the next batch over before settling this one: the writer
        // starts on it while the JS thread resolves promises.
        if (this.#building !== undefined && this.#running === undefined && !this.#closed) this.#submit()
        if (batch === undefined) break
        if (event.type === 'committed') {
          this.stats.writerApplyMs += event.applyMs
          this.stats.writerCommitMs += event.commitMs
          for (const [index, error] of event.dropped) batch.committed[index].outcome = { ok: false, error }
          // The writer logged one change record per committed callback with
          // ops (a non-empty slice), in order, from firstSeq (0: log off).
          if (event.firstSeq > 0) {
            let seq = event.firstSeq
            batch.committed.forEach((p, i) => {
              if (p.outcome?.ok === true && batch.ends[i] > (i === 0 ? 0 : batch.ends[i - 1])) p.changeSeq = seq++
            })
            this.#onCommitted()
          }
        } else {
          for (const p of batch.committed) p.outcome = { ok: false, error: event.error }
        }
        this.#settle(batch.all)
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
    if (this.#queue.length > 0) this.#schedule()
    this.#updateRef()
  }

  #settle (batch: Pending[]): void {
    for (const p of batch) {
      if (p.settled === true) continue
      p.settled = true
      const o = p.outcome!
      if (o.ok) p.resolve(p.withSeq ? { value: o.value, seq: p.changeSeq } : o.value)
      else p.reject(o.error)
      if (p.seq > this.#settledSeq) this.#settledSeq = p.seq
    }
    if (this.#queue.length === 0 && this.#inflight.size === 0 && this.#building === undefined && this.#running === undefined) {
      this.#settledSeq = this.#seq
    }
    const waiters = this.#settleWaiters
    this.#settleWaiters = waiters.filter((w) => w.seq > this.#settledSeq)
    for (const w of waiters) if (w.seq <= this.#settledSeq) w.resolve()
  }

  #updateRef (): void {
    const busy = this.#inflight.size > 0 || this.#flushes.size > 0 || this.#building !== undefined || this.#queue.length > 0
    this.#holder.strong = busy ? this : undefined
    if (!this.#started || busy === this.#refd || !this.#native.isOpen) return
    this.#refd = busy
    this.#native.groupRef(busy)
  }
}
