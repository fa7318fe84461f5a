/**
 * batch(ops, { atomic }) — SPEC §5. Phase 1 validates every op before any
 * transaction opens; phase 2 applies them in request order in ONE LMDB
 * transaction in both lanes:
 *   atomic:     the first failure aborts it; nothing persists.
 *   non-atomic: the first failure stops the batch; the ops before it are
 *               committed (together, in that one transaction) and
 *               BatchError.committed says how many.
 * One commit per batch keeps a non-atomic batch at one fsync instead of one
 * per op; readers see its committed prefix appear at once.
 */
import { addon, type NativeTxn } from './native'
import { describe, type ResolvedOptions } from './options'
import { BatchError, DuplicateKeyError, TransactionTooLargeError } from './errors'
import { isPlainObject, isValue, valueBytes } from './message'

export type BatchOp =
  | { op: 'insert', path: string, value: Uint8Array | string }
  | { op: 'update', path: string, value: Uint8Array | string }
  | { op: 'replace', path: string, value: Uint8Array | string }
  | { op: 'remove', path: string }
  | { op: 'group', path: string }
  | { op: 'link', target: string, path: string }

export interface BatchOptions {
  /** Default true. */
  atomic?: boolean
}

export interface BatchResult {
  /** Ops applied and committed. */
  committed: number
  /** For each committed op: whether its path held an entry just before it. */
  existed: boolean[]
}

interface CheckedOp {
  op: BatchOp['op']
  path: string
  target?: string
  value?: Uint8Array | string
}

const OPS = new Set(['insert', 'update', 'replace', 'remove', 'group', 'link'])

export function checkBatch (ops: unknown, limits: ResolvedOptions['limits']): CheckedOp[] {
  if (!Array.isArray(ops)) throw new TypeError(`ops must be an array, got ${describe(ops)}`)
  const seen = new Map<string, number>()
  const checked: CheckedOp[] = []
  let bytes = 0
  // Every index (a hole is an error, not a skipped op), and every field read
  // once: a getter cannot hand phase 2 something other than what was checked.
  for (let i = 0; i < ops.length; i++) {
    const raw: unknown = ops[i]
    const where = `ops[${i}]`
    if (!isPlainObject(raw)) throw new TypeError(`${where} must be an object, got ${describe(raw)}`)
    const kind = raw.op
    if (typeof kind !== 'string' || !OPS.has(kind)) {
      throw new TypeError(`${where}.op must be one of ${[...OPS].join(', ')}, got ${describe(kind)}`)
    }
    const path = addon.normalizePath(raw.path, `${where}.path`)
    const op: CheckedOp = { op: kind as BatchOp['op'], path }
    bytes += Buffer.byteLength(path) + 1
    if (kind === 'insert' || kind === 'update' || kind === 'replace') {
      const value = raw.value
      if (!isValue(value)) throw new TypeError(`${where}.value must be a Uint8Array or a string, got ${describe(value)}`)
      op.value = value
      bytes += valueBytes(value)
    } else if (kind === 'link') {
      op.target = addon.normalizePath(raw.target, `${where}.target`)
      bytes += Buffer.byteLength(op.target)
    }
    const first = seen.get(path)
    if (first !== undefined) {
      throw new DuplicateKeyError(`${where} and ops[${first}] both act on "${path}"; a batch may touch each path once`,
        path, [first, i])
    }
    seen.set(path, i)
    checked.push(op)
  }
  if (checked.length > limits.maxOps) {
    throw new TransactionTooLargeError(`the batch has ${checked.length} ops, more than limits.maxOps = ${limits.maxOps}`)
  }
  if (bytes > limits.maxBytes) {
    throw new TransactionTooLargeError(`the batch writes ${bytes} bytes, more than limits.maxBytes = ${limits.maxBytes}`)
  }
  return checked
}

/**
 * Applies ops[0..end) to `txn`; returns the index of the first op whose
 * precondition failed (with its cause), or undefined when all applied.
 */
export function applyBatch (txn: NativeTxn, ops: CheckedOp[], end: number, existed: boolean[]):
  { index: number, cause: Error } | undefined {
  for (let i = 0; i < end; i++) {
    const op = ops[i]
    const had = txn.hasKey(op.path)
    switch (op.op) {
      case 'insert':
        if (had) return { index: i, cause: new Error(`insert: "${op.path}" already exists`) }
        txn.write(op.path, op.value!)
        break
      case 'update':
        if (!had) return { index: i, cause: new Error(`update: "${op.path}" does not exist`) }
        txn.write(op.path, op.value!)
        break
      case 'replace': txn.write(op.path, op.value!); break
      case 'remove': txn.remove(op.path, false); break
      case 'group': txn.makeGroup(op.path); break
      case 'link': txn.makeLink(op.target!, op.path); break
    }
    existed[i] = had
  }
  return undefined
}

export function batchError (ops: unknown[], index: number, committed: number, cause: unknown): BatchError {
  const why = cause instanceof Error ? cause.message : String(cause)
  const what = committed === 0 ? 'nothing was written' : `the ${committed} ops before it were committed`
  return new BatchError(`batch op ${index} (${(ops[index] as { op?: string })?.op ?? '?'}) failed: ${why}; ${what}`,
    index, ops[index], committed, cause)
}
