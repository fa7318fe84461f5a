/**
 * The replication wire format (docs/replication.md, "Wire format"): one
 * binary message per record, or per part of a record that is over a peer's
 * limits, or per op for a peer that takes no batches. Every transport
 * (HTTP, JetStream) carries these bytes unchanged; the replica side decodes
 * them with decodeMessage() and applies them with applyMessage().
 *
 *   0  4  magic "LTXR"
 *   4  1  wire version (1)
 *   5  1  flags: bit 0 = per-op part (applied by itself, not staged)
 *   6  2  reserved, 0
 *   8 16  primary store id
 *  24  8  seq, u64 big-endian
 *  32  4  part index, u32 big-endian, 0-based
 *  36  4  part count, u32 big-endian, >= 1
 *  40  …  payload: the stored change record (one part), a byte slice of it
 *         (parts concatenate to it, in order), or one encoded op (per-op)
 */
import { RecordFormatError, RECORD_HEAD_BYTES } from '../changes'

export const WIRE_MAGIC = Buffer.from('LTXR')
export const WIRE_VERSION = 1
export const WIRE_HEADER_BYTES = 40
export const FLAG_PER_OP = 1
/** Parts per record a replica accepts (bounds what it stages). */
export const MAX_PARTS = 1 << 20

export interface WireMessage {
  /** The primary's store id, 32 hex digits. */
  storeId: string
  seq: number
  part: number
  parts: number
  perOp: boolean
  payload: Uint8Array
}

/** What a peer takes in one message; the sender splits records to fit. */
export interface PeerLimits {
  /** Whole message (header included) at most this many bytes. */
  maxMessageBytes: number
  /** At most this many ops per message. */
  maxMessageOps: number
  /** false: the peer gets one message per op (its atomicity per record is lost). */
  batches: boolean
}

export function encodeMessage (m: WireMessage): Buffer {
  const out = Buffer.allocUnsafe(WIRE_HEADER_BYTES + m.payload.byteLength)
  WIRE_MAGIC.copy(out, 0)
  out[4] = WIRE_VERSION
  out[5] = m.perOp ? FLAG_PER_OP : 0
  out.writeUInt16BE(0, 6)
  Buffer.from(m.storeId, 'hex').copy(out, 8)
  out.writeBigUInt64BE(BigInt(m.seq), 24)
  out.writeUInt32BE(m.part, 32)
  out.writeUInt32BE(m.parts, 36)
  out.set(m.payload, WIRE_HEADER_BYTES)
  return out
}

/** Strict: anything malformed is a RecordFormatError (the caller answers 4xx). */
export function decodeMessage (bytes: Uint8Array): WireMessage {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (b.length < WIRE_HEADER_BYTES) throw new RecordFormatError(`message of ${b.length} bytes is shorter than the ${WIRE_HEADER_BYTES}-byte header`)
  if (!b.subarray(0, 4).equals(WIRE_MAGIC)) throw new RecordFormatError('not an lmdb-txn replication message (bad magic)')
  if (b[4] !== WIRE_VERSION) throw new RecordFormatError(`wire version ${b[4]} is not supported (this lmdb-txn speaks ${WIRE_VERSION})`)
  if ((b[5] & ~FLAG_PER_OP) !== 0 || b.readUInt16BE(6) !== 0) throw new RecordFormatError('unknown flags')
  const seq = b.readBigUInt64BE(24)
  if (seq < 1n || seq > BigInt(Number.MAX_SAFE_INTEGER)) throw new RecordFormatError(`seq ${seq} is out of range`)
  const part = b.readUInt32BE(32)
  const parts = b.readUInt32BE(36)
  if (parts < 1 || parts > MAX_PARTS || part >= parts) throw new RecordFormatError(`part ${part} of ${parts} is out of range`)
  const payload = b.subarray(WIRE_HEADER_BYTES)
  if (payload.length === 0) throw new RecordFormatError('empty payload')
  return { storeId: b.toString('hex', 8, 24), seq: Number(seq), part, parts, perOp: (b[5] & FLAG_PER_OP) !== 0, payload }
}

/** Byte offsets where each op of a stored record starts (and its end). */
export function opOffsets (record: Uint8Array): number[] {
  const v = new DataView(record.buffer, record.byteOffset, record.byteLength)
  const out: number[] = []
  let at = RECORD_HEAD_BYTES
  const skip = (): void => {
    if (at + 4 > record.byteLength) throw new RecordFormatError('truncated op')
    at += 4 + v.getUint32(at, true)
  }
  while (at < record.byteLength) {
    out.push(at)
    const kind = record[at++]
    skip()
    if (kind === 1 || kind === 3) skip()
  }
  if (at !== record.byteLength) throw new RecordFormatError('truncated op')
  out.push(at)
  return out
}

/**
 * One record as the messages a peer with `limits` takes, in send order:
 * one message when it fits; else numbered parts cut at op boundaries where
 * the limits allow (an op over maxMessageBytes alone is cut mid-op: parts
 * are byte slices that the replica concatenates); per-op messages for a
 * peer that takes no batches.
 */
export function splitRecord (storeId: string, seq: number, record: Uint8Array, limits: PeerLimits): WireMessage[] {
  const budget = limits.maxMessageBytes - WIRE_HEADER_BYTES
  if (budget < 1) throw new RangeError(`maxMessageBytes must exceed the ${WIRE_HEADER_BYTES}-byte header`)
  const offsets = opOffsets(record)
  const opCount = offsets.length - 1
  const base = { storeId, seq, perOp: false }
  if (!limits.batches) {
    return offsets.slice(0, -1).map((start, i) => ({ ...base, perOp: true, part: i, parts: opCount, payload: record.subarray(start, offsets[i + 1]) }))
  }
  if (record.byteLength <= budget && opCount <= limits.maxMessageOps) {
    return [{ ...base, part: 0, parts: 1, payload: record }]
  }
  const slices: Array<[number, number]> = []
  let start = 0
  let op = 0 // first op whose start is >= start
  while (start < record.byteLength) {
    let end = start
    let ops = 0
    // whole ops that fit both limits (the record head rides in the first)
    while (op < opCount && offsets[op + 1] - start <= budget && ops < limits.maxMessageOps) { end = offsets[op + 1]; op++; ops++ }
    if (end === start) {
      // no whole op fits: a byte slice (mid-op); count it against the op it starts in
      end = Math.min(start + budget, record.byteLength)
      while (op < opCount && offsets[op + 1] <= end) op++
    }
    slices.push([start, end])
    start = end
  }
  return slices.map(([s, e], i) => ({ ...base, part: i, parts: slices.length, payload: record.subarray(s, e) }))
}
