/**
 * Power-loss simulation from the shim's journal (CRASH_SHIM_JOURNAL).
 *
 * Model. The data file at the child's start (the base image) is on disk.
 * Every write the child issued is in the journal, in order, with the bytes
 * it wrote; a completed fdatasync/fsync/msync makes every write before it
 * durable; a completed write on an O_DSYNC descriptor is durable itself.
 * Whatever was written after the last such point is NOT trusted: at the
 * simulated power cut, each unsynced write may have reached the disk whole,
 * not at all, or in part — in 512-byte sectors, any subset of them, in any
 * order (a sector itself is atomic). Writes that failed are not applied.
 *
 * Scenarios per crash point:
 *   all      every unsynced write landed (= what a process crash leaves;
 *            must equal the real data.mdb, which checks the journal)
 *   none     only durable writes
 *   subset   each unsynced sector kept with probability 1/2 (reordering +
 *            tearing)
 *   prefix   each unsynced write kept or dropped, a kept one torn after a
 *            random number of sectors (a torn write in issue order)
 */
const SECTOR = 512

export interface JWrite { seq: number, off: number, data: Buffer, dsync: boolean, written: number | undefined }
export interface Journal { writes: JWrite[], durableUpTo: number, durable: Set<number>, truncations: number }

export function parseJournal (buf: Buffer): Journal {
  const writes: JWrite[] = []
  const bySeq = new Map<number, JWrite>()
  let durableUpTo = -1 // index in writes: writes[0..durableUpTo] are synced
  const durable = new Set<number>() // O_DSYNC writes that completed
  let truncations = 0
  let p = 0
  while (p + 32 <= buf.length) {
    const kind = String.fromCharCode(buf[p])
    const flags = buf[p + 1]
    const len = buf.readUInt32LE(p + 4)
    const seq = Number(buf.readBigUInt64LE(p + 8))
    const off = Number(buf.readBigInt64LE(p + 16))
    const aux = Number(buf.readBigInt64LE(p + 24))
    if (p + 32 + len > buf.length) break // a record cut by the crash: never issued
    const data = buf.subarray(p + 32, p + 32 + len)
    p += 32 + len
    if (kind === 'W') {
      const w: JWrite = { seq, off, data, dsync: (flags & 1) !== 0, written: undefined }
      writes.push(w)
      bySeq.set(seq, w)
    } else if (kind === 'R') {
      const w = bySeq.get(seq)
      if (w) {
        w.written = aux < 0 ? 0 : Math.min(aux, w.data.length)
        if (w.dsync && aux === w.data.length) durable.add(seq)
      }
    } else if (kind === 'S') {
      durableUpTo = writes.length - 1
    } else if (kind === 'T') {
      truncations++
    } else {
      throw new Error(`journal: unknown record kind ${kind} at ${p}`)
    }
  }
  return { writes, durableUpTo, durable, truncations }
}

export type Scenario = 'all' | 'none' | 'subset' | 'prefix'

function put (image: Buffer, off: number, data: Buffer): Buffer {
  const end = off + data.length
  if (end > image.length) image = Buffer.concat([image, Buffer.alloc(end - image.length)])
  data.copy(image, off)
  return image
}

/** The bytes a write actually transferred (a write killed before returning: all it asked). */
const effective = (w: JWrite): Buffer => w.data.subarray(0, w.written ?? w.data.length)

export function unsyncedCount (j: Journal): number {
  return j.writes.filter((w, i) => i > j.durableUpTo && !j.durable.has(w.seq) && effective(w).length > 0).length
}

/** One possible disk image after a power cut at the end of the journal. */
export function reconstruct (base: Buffer, j: Journal, scenario: Scenario, rand: () => number): Buffer {
  if (j.truncations > 0) throw new Error('journal has ftruncate records: the model does not cover them')
  let image: Buffer = Buffer.from(base)
  j.writes.forEach((w, i) => {
    const data = effective(w)
    if (data.length === 0) return
    if (i <= j.durableUpTo || j.durable.has(w.seq) || scenario === 'all') {
      image = put(image, w.off, data)
      return
    }
    if (scenario === 'none') return
    // Sector boundaries are file offsets that are multiples of SECTOR.
    const pieces: Array<[number, number]> = []
    for (let a = w.off; a < w.off + data.length;) {
      const b = Math.min(w.off + data.length, (Math.floor(a / SECTOR) + 1) * SECTOR)
      pieces.push([a, b])
      a = b
    }
    let keep: boolean[]
    if (scenario === 'subset') {
      keep = pieces.map(() => rand() < 0.5)
    } else {
      const landed = rand() < 0.5
      const upTo = Math.floor(rand() * (pieces.length + 1))
      keep = pieces.map((_, k) => landed && k < upTo)
    }
    pieces.forEach(([a, b], k) => {
      if (keep[k]) image = put(image, a, data.subarray(a - w.off, b - w.off))
    })
  })
  return image
}
