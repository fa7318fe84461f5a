/**
 * Keys of the `sync` database (replication state, never in the path
 * namespace and never in the change log). Written by lib/sync/, read by
 * store.stat() and the CLI. Seqs are 8-byte big-endian.
 */
export const SYNC_KEYS = {
  /** primary: `cursor/<peer id>` → the highest seq the peer acknowledged */
  cursorPrefix: 'cursor/',
  /** replica: the primary's store id (16 bytes) */
  replicaPrimary: 'replica/primary',
  /** replica: the last seq applied whole */
  replicaApplied: 'replica/applied',
  /** replica, per-op mode: seq (8) + next op index (4) of a record being applied op by op */
  replicaOpProgress: 'replica/op-progress',
  /** replica: `replica/part/<seq 8><part 4>` → a staged part of a split record */
  replicaPartPrefix: 'replica/part/'
} as const

export function seqBytes (seq: number): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(BigInt(seq))
  return b
}

export function readSeq (b: Uint8Array | undefined): number {
  if (b === undefined || b.byteLength !== 8) return 0
  return Number(Buffer.from(b.buffer, b.byteOffset, 8).readBigUInt64BE())
}

export interface ReplicaStat {
  /** Store id (hex) of the primary this store replicates. */
  primary: string
  /** Last seq of the primary applied here whole. */
  appliedSeq: number
}
