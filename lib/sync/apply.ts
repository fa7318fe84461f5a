/**
 * The replica side (SPEC §11.2), shared by every transport: applies one
 * wire message to a replica store. A whole record is applied in ONE LMDB
 * transaction together with the applied seq; the parts of a split record
 * are staged (durably, in the `sync` database) and applied together when
 * the last one arrives; a per-op part is applied by itself with the
 * record's progress. Everything is checked inside that transaction, in
 * call order, before anything is written: a redelivery is acknowledged and
 * skipped, a gap is refused with what is expected next, another primary's
 * message is refused, a malformed one writes nothing.
 *
 * Each message is one write transaction of its own (the sync database is
 * written with the data, which group-commit callbacks cannot do): the
 * promise resolves once it is durable — only then may a transport ack it.
 */
import type { Store } from '../store'
import type { NativeTxn } from '../native'
import { kRunSync } from '../internal'
import { applyOps, decodeOps, decodeRecord, RecordFormatError } from '../changes'
import { readSeq, seqBytes, SYNC_KEYS } from '../sync-state'
import { decodeMessage, type WireMessage } from './wire'
import { PeerError } from './peer'

export type ApplyStatus = 'applied' | 'duplicate' | 'staged'

export interface ApplyResult {
  status: ApplyStatus
  seq: number
  part: number
  /** The replica's applied seq after this message. */
  appliedSeq: number
}

/** A gap: the replica expects `expected` next; nothing was written. */
export class GapError extends PeerError {
  constructor (expected: { seq: number, part: number }, got: { seq: number, part: number }) {
    super(`gap: expected seq ${expected.seq} part ${expected.part}, got seq ${got.seq} part ${got.part}`, 'GAP', { expected })
  }
}

/** The replica belongs to another primary store; nothing was written. */
export class ForeignPrimaryError extends PeerError {
  readonly primary: string
  constructor (primary: string, got: string) {
    super(`this replica belongs to primary store ${primary}; refused a message of store ${got}`, 'FOREIGN_PRIMARY')
    this.primary = primary
  }
}

const KEY = {
  primary: Buffer.from(SYNC_KEYS.replicaPrimary),
  applied: Buffer.from(SYNC_KEYS.replicaApplied),
  opProgress: Buffer.from(SYNC_KEYS.replicaOpProgress)
}

function partKey (seq: number, part: number): Buffer {
  const k = Buffer.alloc(SYNC_KEYS.replicaPartPrefix.length + 12)
  k.write(SYNC_KEYS.replicaPartPrefix, 0)
  k.writeBigUInt64BE(BigInt(seq), SYNC_KEYS.replicaPartPrefix.length)
  k.writeUInt32BE(part, SYNC_KEYS.replicaPartPrefix.length + 8)
  return k
}

/**
 * Applies one message (bytes or decoded) to `replica` in one write
 * transaction, committed (durable per the store's durability) before the
 * promise settles; see the file comment. Runs at call time, so calls apply
 * in call order.
 */
export function applyMessage (replica: Store, message: Uint8Array | WireMessage): Promise<ApplyResult> {
  try {
    const m = message instanceof Uint8Array ? decodeMessage(message) : message
    return Promise.resolve(replica[kRunSync]((_txn, native) => applyInTxn(native, m), 'applyMessage()'))
  } catch (err) {
    return Promise.reject(err)
  }
}

function applyInTxn (n: NativeTxn, m: WireMessage): ApplyResult {
  const id = Buffer.from(m.storeId, 'hex')
  const primary = n.syncGet(KEY.primary)
  if (primary !== undefined && !primary.equals(id)) throw new ForeignPrimaryError(primary.toString('hex'), m.storeId)
  const applied = readSeq(n.syncGet(KEY.applied))
  const result = (status: ApplyStatus, appliedSeq: number): ApplyResult => ({ status, seq: m.seq, part: m.part, appliedSeq })
  if (m.seq <= applied) return result('duplicate', applied)
  if (m.seq !== applied + 1) throw new GapError({ seq: applied + 1, part: 0 }, m)
  if (primary === undefined) n.syncPut(KEY.primary, id)

  if (m.perOp) {
    const progress = n.syncGet(KEY.opProgress)
    const next = progress !== undefined && readSeq(progress.subarray(0, 8)) === m.seq ? progress.readUInt32BE(8) : 0
    if (m.part < next) return result('duplicate', applied)
    if (m.part > next) throw new GapError({ seq: m.seq, part: next }, m)
    applyOps(n, decodeOps(m.payload, 0, m.payload.byteLength, 1))
    if (m.part + 1 === m.parts) {
      n.syncDelete(KEY.opProgress)
      n.syncPut(KEY.applied, seqBytes(m.seq))
      return result('applied', m.seq)
    }
    const p = Buffer.alloc(12)
    p.writeBigUInt64BE(BigInt(m.seq))
    p.writeUInt32BE(m.part + 1, 8)
    n.syncPut(KEY.opProgress, p)
    return result('staged', applied)
  }

  if (m.parts === 1) {
    applyOps(n, decodeRecord(m.seq, m.payload).ops)
    n.syncPut(KEY.applied, seqBytes(m.seq))
    return result('applied', m.seq)
  }
  // A part of a split record: stage it; the last one applies them all.
  // Parts may be resent (a new connection): staging is idempotent.
  // Parts are staged in order, so the previous one being there means all are.
  if (m.part > 0 && n.syncGet(partKey(m.seq, m.part - 1)) === undefined) throw new GapError({ seq: m.seq, part: 0 }, m)
  if (m.part + 1 < m.parts) {
    n.syncPut(partKey(m.seq, m.part), m.payload)
    return result('staged', applied)
  }
  const pieces: Uint8Array[] = []
  for (let i = 0; i < m.part; i++) pieces.push(n.syncGet(partKey(m.seq, i))!)
  pieces.push(m.payload)
  const record = Buffer.concat(pieces)
  applyOps(n, decodeRecord(m.seq, record).ops)
  for (let i = 0; i < m.part; i++) n.syncDelete(partKey(m.seq, i))
  n.syncPut(KEY.applied, seqBytes(m.seq))
  return result('applied', m.seq)
}

/** Where a replica stands: its primary (hex) and applied seq; undefined if it never applied anything. */
export function replicaState (replica: Store): { primary: string, appliedSeq: number } | undefined {
  return replica.stat().replica
}

export { RecordFormatError }
