/**
 * Loads the addon: `build/Release` when a developer or CI built it,
 * otherwise the committed prebuild for this platform (node-gyp-build).
 * Nothing here depends on an install script having run.
 */
import * as path from 'node:path'
import { createNativeError } from './errors'

export type EntryType = 'simple' | 'group' | 'link'

export interface NativeReader {
  /** A length: the value is in `readBuffer`; a Buffer when it did not fit. */
  read (path: string): number | Buffer | undefined
  readString (path: string): string | undefined
  /** The value's length (copied to target's start only if it fits), or undefined. */
  readInto (path: string, target: Uint8Array): number | undefined
  type (path: string, follow: boolean): EntryType | undefined
  exists (path: string): boolean
  resolve (path: string): string
  list (path: string, after: string | undefined, limit: number | undefined): string[]
  keys (prefix: string, after: string | undefined, limit: number | undefined): string[]
  readLink (path: string): string | undefined
  /** Whole-group reads (native/message_read.h): the values, or [values, layout]; the layout is in readBuffer. */
  readMessage (path: string, depth: number, follow: boolean): BulkResult | undefined
  entries (path: string, after: string | undefined, limit: number | undefined, values: boolean): BulkResult
  keyEntries (prefix: string, after: string | undefined, limit: number | undefined, values: boolean): BulkResult
  readMany (paths: string[]): BulkResult
}

export type BulkResult = ArrayBuffer | [ArrayBuffer, ArrayBuffer]

export interface NativeTxn extends NativeReader {
  write (path: string, value: Uint8Array | string): void
  makeGroup (path: string): void
  makeLink (target: string, path: string): void
  remove (path: string, recursive: boolean): boolean
  hasKey (path: string): boolean
  beginChild (isolated?: boolean, maxOps?: number, maxBytes?: number): void
  commitChild (): void
  abortChild (): void
  /** A group batch view: applies encoded ops [from, to) (native/group_ops.h). */
  applyOps (ops: Uint8Array, from: number, to: number): void
  /** The change-log seq it recorded, or undefined. */
  commit (): number | undefined
  trimChanges (upTo: number): number
  restoreChange (seq: number, record: Uint8Array): void
  /** Like NativeStore.changes, in this transaction's (or snapshot's) view. */
  changes (after: number, limit: number): Array<number | Buffer>
  syncGet (key: Uint8Array): Buffer | undefined
  syncPut (key: Uint8Array, value: Uint8Array): void
  syncDelete (key: Uint8Array): boolean
  abort (): void
  readonly active: boolean
  readonly mapFullGrown: boolean
}

export interface NativeStat {
  entries: number
  depth: number
  pageSize: number
  mapSize: number
  maxMapSize: number
  usedBytes: number
  lastTxnId: number
  readers: number
  maxReaders: number
  formatVersion: number
  /** Random 128-bit id of the store (hex), created with it. */
  storeId?: string
}

export interface NativeChangeLogInfo { on: boolean, first?: number, last?: number, count?: number }

export interface NativeStoreOptions {
  readOnly: boolean
  mapSize: number
  maxMapSize: number
  maxReaders: number
  durabilityFlags: number
  maxLinkDepth: number
  changeLog: boolean
}

export interface NativeStore extends NativeReader {
  begin (maxOps: number, maxBytes: number): NativeTxn
  snapshot (): NativeTxn
  stat (): NativeStat
  close (): void
  writerBusy (): boolean
  groupStart (onEvent: (event: any) => void): void
  /** Blocks until the writer holds a txn for the batch being built; a view of it. */
  groupHold (regrow: boolean): NativeTxn
  /** Hands a batch's ops to the writer; returns its generation. */
  groupCommit (ops: Uint8Array, length: number, ends: Uint32Array, applied: number): number
  groupRelease (): void
  groupRunning (running: boolean): void
  groupFlush (id: number): void
  groupRef (ref: boolean): void
  /** [seq, record, seq, record, ...] with seq > after, at most limit records. */
  changes (after: number, limit: number): Array<number | Buffer>
  changeLogInfo (): NativeChangeLogInfo
  syncGet (key: Buffer): Buffer | undefined
  syncList (prefix: Buffer): Buffer[]
  /** A hot copy into the existing directory `dest` (lib/backup.ts checks it first). */
  backup (dest: string, compact: boolean): Promise<{ path: string, bytes: number, compact: boolean }>
  readonly isOpen: boolean
}

/** One LMDB database as mdb_dump sees it: flags and key, value, key, value, … */
export interface RawDatabase { name: string | null, flags: number, pairs: Buffer[] }
export interface RawDbStat {
  name: string | null, flags: number, depth: number, branchPages: number, leafPages: number, overflowPages: number, entries: number
}
export interface RawStat {
  pageSize: number, mapSize: number, pagesUsed: number, lastTxnId: number, maxReaders: number, readers: number
  freePages: number
  /** reader table: slots in use by processes other than this call, and those holding a snapshot now */
  readerSlotsInUse: number
  readersHoldingSnapshot: number
  /** the free list's own tree first, then the main database, then each named one */
  dbs: RawDbStat[]
}

export interface NativeAddon {
  /**
   * The CLI's mdb_stat / mdb_dump / mdb_load: each call opens its own MDB_env,
   * so never while this process has the directory open through open().
   */
  raw: {
    stat (dir: string): RawStat
    dump (dir: string, names: string[] | null): RawDatabase[]
    load (dir: string, mapSize: number, dbs: RawDatabase[]): number
  }
  NativeStore: new (path: string, options: NativeStoreOptions) => NativeStore
  setErrorFactory (factory: (kind: string, message: string, extra: object) => Error): void
  normalizePath (path: unknown, argName?: string): string
  readBuffer: ArrayBuffer
  sourceHash: string
  lmdbVersion: string
  MDB_NOSYNC: number
  MDB_NOMETASYNC: number
}

// eslint-disable-next-line @typescript-eslint/no-var-requires
const load = require('node-gyp-build') as (dir: string) => unknown

/**
 * node-gyp-build finds nothing for this platform/libc (musl: the glibc
 * prebuild is tagged so it is never picked there), or the dynamic loader
 * refuses what it found (an older glibc). Either way the user needs one line
 * saying how to build from source, not a dlopen message.
 */
function loadAddon (dir: string): NativeAddon {
  try {
    return load(dir) as NativeAddon
  } catch (e) {
    const reason = String((e as Error)?.message ?? e).split('\n')[0].trim()
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header
    const libc = header?.glibcVersionRuntime !== undefined ? `glibc ${header.glibcVersionRuntime}` : 'not glibc'
    throw new Error(`lmdb-txn: no usable native binary for ${process.platform}-${process.arch} (${libc}): ${reason}. ` +
      'Build it from source: install a C++17 compiler, make, python3 and LMDB with its static library ' +
      '(Debian/Ubuntu: apt-get install g++ make python3 liblmdb-dev; Alpine: apk add build-base python3 lmdb-dev), ' +
      'then run `npm rebuild lmdb-txn --foreground-scripts` (docs/building.md)', { cause: e })
  }
}

export const addon = loadAddon(path.join(__dirname, '..'))
addon.setErrorFactory(createNativeError)

const readBuffer = Buffer.from(addon.readBuffer)

/** The thread's read buffer (the layout of a whole-group read lands there). */
export const sharedReadBuffer: ArrayBuffer = addon.readBuffer

/**
 * A native read result as a Buffer with a backing store of its own, exactly
 * the value's size (never a slice of Node's shared pool: `value.buffer` must
 * not show other entries). allocUnsafeSlow skips the zero fill the copy
 * overwrites anyway; V8 keeps values up to 64 bytes on its heap.
 */
export function readResult (result: number | Buffer | undefined): Buffer | undefined {
  if (typeof result !== 'number') return result
  const out = Buffer.allocUnsafeSlow(result)
  readBuffer.copy(out, 0, 0, result)
  return out
}
