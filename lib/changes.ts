/**
 * The change log (SPEC §11.1): record decoding and watch() wake-ups.
 *
 * Records are written natively (native/change_log.cc), one per logical
 * transaction, in the same LMDB commit as their data. The layout is in
 * docs/format.md; the decoder here is strict because replicas decode
 * records that arrived over the network.
 */
import { LmdbTxnError } from './errors'

export type ChangeOp =
  | { op: 'write', path: string, value: Uint8Array }
  | { op: 'group', path: string }
  | { op: 'link', path: string, target: string }
  | { op: 'remove', path: string, recursive: boolean }

export interface Change {
  seq: number
  /** Wall-clock milliseconds at commit (of the committing process). */
  time: number
  ops: ChangeOp[]
}

export interface ChangeLogStat {
  /** Seq of the oldest record kept (last + 1 when the log is empty). */
  first: number
  /** Seq of the newest record (or of the last trimmed one when empty). */
  last: number
  count: number
}

export const RECORD_VERSION = 1
/** version u8, time f64 LE, op count u32 LE */
export const RECORD_HEAD_BYTES = 13
export const OP_KIND = { write: 1, group: 2, link: 3, remove: 4, removeRecursive: 5 } as const

/** A record, op or part that cannot be decoded; nothing of it is applied. */
export class RecordFormatError extends LmdbTxnError {
  constructor (message: string) { super('RECORD_FORMAT', message) }
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

function text (bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes)
  } catch {
    throw new RecordFormatError(`${what} is not valid UTF-8`)
  }
}

/** Reads ops from `buf` at `offset` until `end` (or `count` ops); strict. */
export function decodeOps (buf: Uint8Array, offset: number, end: number, count?: number): ChangeOp[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const ops: ChangeOp[] = []
  let at = offset
  const blob = (what: string): Uint8Array => {
    if (at + 4 > end) throw new RecordFormatError(`${what} length runs past the end (op ${ops.length})`)
    const len = view.getUint32(at, true)
    at += 4
    if (len > end - at) throw new RecordFormatError(`${what} of ${len} bytes runs past the end (op ${ops.length})`)
    const out = buf.subarray(at, at + len)
    at += len
    return out
  }
  while (at < end && (count === undefined || ops.length < count)) {
    const kind = buf[at++]
    const path = text(blob('path'), `op ${ops.length} path`)
    switch (kind) {
      case OP_KIND.write: ops.push({ op: 'write', path, value: Uint8Array.prototype.slice.call(blob('value')) }); break
      case OP_KIND.group: ops.push({ op: 'group', path }); break
      case OP_KIND.link: ops.push({ op: 'link', path, target: text(blob('target'), `op ${ops.length} target`) }); break
      case OP_KIND.remove: ops.push({ op: 'remove', path, recursive: false }); break
      case OP_KIND.removeRecursive: ops.push({ op: 'remove', path, recursive: true }); break
      default: throw new RecordFormatError(`op ${ops.length} has unknown kind ${kind}`)
    }
  }
  if (count !== undefined && ops.length !== count) throw new RecordFormatError(`the record says ${count} ops but holds ${ops.length}`)
  if (at !== end) throw new RecordFormatError(`${end - at} bytes after the last op`)
  return ops
}

/** A stored record (value of the `changes` database) as a Change. */
export function decodeRecord (seq: number, record: Uint8Array): Change {
  if (record.byteLength < RECORD_HEAD_BYTES) throw new RecordFormatError(`record ${seq} has ${record.byteLength} bytes, fewer than its header`)
  if (record[0] !== RECORD_VERSION) throw new RecordFormatError(`record ${seq} has version ${record[0]}; this lmdb-txn reads ${RECORD_VERSION}`)
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength)
  const time = view.getFloat64(1, true)
  const count = view.getUint32(9, true)
  return { seq, time, ops: decodeOps(record, RECORD_HEAD_BYTES, record.byteLength, count) }
}

/** Encodes ops as a record body (the inverse of decodeRecord; used by load and tests). */
export function encodeRecord (time: number, ops: ChangeOp[]): Buffer {
  const parts: Buffer[] = []
  const head = Buffer.alloc(RECORD_HEAD_BYTES)
  head[0] = RECORD_VERSION
  head.writeDoubleLE(time, 1)
  head.writeUInt32LE(ops.length, 9)
  parts.push(head)
  const blob = (b: Uint8Array): void => {
    const len = Buffer.alloc(4)
    len.writeUInt32LE(b.byteLength)
    parts.push(len, Buffer.from(b.buffer, b.byteOffset, b.byteLength))
  }
  for (const op of ops) {
    const kind = op.op === 'remove' ? (op.recursive ? OP_KIND.removeRecursive : OP_KIND.remove) : OP_KIND[op.op]
    parts.push(Buffer.from([kind]))
    blob(Buffer.from(op.path))
    if (op.op === 'write') blob(op.value)
    else if (op.op === 'link') blob(Buffer.from(op.target))
  }
  return Buffer.concat(parts)
}

// ---- wake-ups for watch() --------------------------------------------------

/**
 * Commits of this process wake watchers at once (by store directory); other
 * processes' commits are seen by a poll of the last seq every POLL_MS, run
 * only while a watcher waits. A poll is one read transaction and one cursor
 * step: cheap, bounded (1000/POLL_MS per second per waiting watcher), and it
 * needs no extra write per commit (a notify file would cost every writer a
 * syscall and fs.watch is not reliable on every file system).
 */
export const POLL_MS = 20
const waiters = new Map<string, Set<() => void>>()

export function notifyCommitted (dir: string): void {
  const set = waiters.get(dir)
  if (set === undefined) return
  for (const wake of [...set]) wake()
}

/** Resolves on a local commit to `dir`, after POLL_MS, or on abort. */
export function waitForCommit (dir: string, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    let set = waiters.get(dir)
    if (set === undefined) waiters.set(dir, set = new Set())
    const done = (): void => {
      clearTimeout(timer)
      set!.delete(done)
      if (set!.size === 0) waiters.delete(dir)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, POLL_MS)
    set.add(done)
    signal?.addEventListener('abort', done, { once: true })
  })
}

/** The slice of a transaction that replaying a change needs. */
export interface ChangeTarget {
  write (path: string, value: Uint8Array): void
  makeGroup (path: string): void
  makeLink (target: string, path: string): void
  remove (path: string, recursive: boolean): boolean
}

/** Applies ops in order to `txn` (a native or JS transaction). */
export function applyOps (txn: ChangeTarget, ops: ChangeOp[]): void {
  for (const op of ops) {
    switch (op.op) {
      case 'write': txn.write(op.path, op.value); break
      case 'group': txn.makeGroup(op.path); break
      case 'link': txn.makeLink(op.target, op.path); break
      case 'remove': txn.remove(op.path, op.recursive); break
    }
  }
}

/** Replays a change (or its ops) in `txn`: the ops, in order, literally. */
export function applyChange (txn: { write: ChangeTarget['write'], makeGroup: ChangeTarget['makeGroup'], makeLink: ChangeTarget['makeLink'], remove (path: string, opts?: { recursive?: boolean }): boolean }, change: Change | ChangeOp[]): void {
  applyOps({
    write: (p, v) => txn.write(p, v),
    makeGroup: (p) => txn.makeGroup(p),
    makeLink: (t, p) => txn.makeLink(t, p),
    remove: (p, recursive) => txn.remove(p, { recursive })
  }, Array.isArray(change) ? change : change.ops)
}
