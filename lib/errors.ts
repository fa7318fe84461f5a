/**
 * Every error lmdb-txn throws on purpose. Each has a stable string `code`.
 * The native addon creates them through `createNativeError`, so classes,
 * codes and extra fields are defined only here.
 */

export class LmdbTxnError extends Error {
  readonly code: string
  constructor (code: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** A path is empty, or has a `.`/`..` segment or a NUL byte (SPEC §2). */
export class InvalidPathError extends LmdbTxnError {
  constructor (message: string) { super('INVALID_PATH', message) }
}

/** The normalised path is longer than LMDB's 511-byte key limit. */
export class KeyTooLongError extends LmdbTxnError {
  constructor (message: string) { super('KEY_TOO_LONG', message) }
}

/** A second write transaction on a thread that already holds one. */
export class TransactionBusyError extends LmdbTxnError {
  constructor (message: string) { super('TRANSACTION_BUSY', message) }
}

/** The transaction was committed, aborted, or failed. */
export class TransactionFinishedError extends LmdbTxnError {
  constructor (message: string) { super('TRANSACTION_FINISHED', message) }
}

/** The transaction or batch crossed `limits.maxOps` or `limits.maxBytes`. */
export class TransactionTooLargeError extends LmdbTxnError {
  constructor (message: string) { super('TRANSACTION_TOO_LARGE', message) }
}

/**
 * The memory map was full. `retryable` says whether running the
 * transaction again can succeed (the map has grown or can still grow);
 * the failed transaction itself has been aborted.
 */
export class MapFullError extends LmdbTxnError {
  readonly retryable: boolean
  readonly lmdbCode = 'MDB_MAP_FULL'
  constructor (message: string, retryable: boolean) {
    super('MAP_FULL', message)
    this.retryable = retryable
  }
}

/** Resolving a path followed more than `maxLinkDepth` links. */
export class LinkLoopError extends LmdbTxnError {
  constructor (message: string) { super('LINK_LOOP', message) }
}

/** Two ops of one batch act on the same normalised path. */
export class DuplicateKeyError extends LmdbTxnError {
  readonly path: string
  readonly indexes: [number, number]
  constructor (message: string, path: string, indexes: [number, number]) {
    super('DUPLICATE_KEY', message)
    this.path = path
    this.indexes = indexes
  }
}

/** A batch op failed while the batch was being applied. */
export class BatchError extends LmdbTxnError {
  readonly index: number
  readonly op: unknown
  readonly committed: number
  constructor (message: string, index: number, op: unknown, committed: number, cause: unknown) {
    super('BATCH_FAILED', message, { cause })
    this.index = index
    this.op = op
    this.committed = committed
  }
}

/** The store (or the transaction's store) was closed. */
export class StoreClosedError extends LmdbTxnError {
  constructor (message: string) { super('STORE_CLOSED', message) }
}

/** A write on a store opened with `readOnly: true`. */
export class ReadOnlyError extends LmdbTxnError {
  constructor (message: string) { super('READ_ONLY', message) }
}

/** The directory is not an lmdb-txn store of a format this version reads. */
export class FormatError extends LmdbTxnError {
  constructor (message: string) { super('FORMAT', message) }
}

/** Why store.backup() refused its destination (before writing a data.mdb there). */
export type BackupTargetReason = 'exists' | 'source' | 'not-a-directory' | 'not-writable' | 'busy'

/**
 * store.backup() refused `dest`: it already holds a data.mdb (`exists`), is
 * the store's own directory (`source`), is a file (`not-a-directory`), cannot
 * be created or written (`not-writable`, with the system's `lmdbCode`), or
 * another backup is writing into it now (`busy`).
 */
export class BackupTargetError extends LmdbTxnError {
  readonly reason: BackupTargetReason
  readonly lmdbCode: string | undefined
  constructor (message: string, reason: BackupTargetReason, lmdbCode?: string) {
    super('BACKUP_TARGET', message)
    this.reason = reason
    this.lmdbCode = lmdbCode
  }
}

/** Any other LMDB (or system) return code, e.g. `MDB_CORRUPTED`, `EIO`. */
export class LmdbError extends LmdbTxnError {
  readonly lmdbCode: string
  readonly errno: number
  constructor (message: string, lmdbCode: string, errno: number) {
    super('LMDB_ERROR', message)
    this.lmdbCode = lmdbCode
    this.errno = errno
  }
}

interface NativeErrorExtra {
  retryable?: boolean
  lmdbCode?: string
  errno?: number
  reason?: string
}

/** @internal called by the addon to build the error it throws. */
export function createNativeError (kind: string, message: string, extra: NativeErrorExtra): Error {
  switch (kind) {
    case 'INVALID_PATH': return new InvalidPathError(message)
    case 'KEY_TOO_LONG': return new KeyTooLongError(message)
    case 'TRANSACTION_BUSY': return new TransactionBusyError(message)
    case 'TRANSACTION_FINISHED': return new TransactionFinishedError(message)
    case 'TRANSACTION_TOO_LARGE': return new TransactionTooLargeError(message)
    case 'MAP_FULL': return new MapFullError(message, extra.retryable ?? false)
    case 'LINK_LOOP': return new LinkLoopError(message)
    case 'STORE_CLOSED': return new StoreClosedError(message)
    case 'READ_ONLY': return new ReadOnlyError(message)
    case 'FORMAT': return new FormatError(message)
    case 'BACKUP_TARGET': return new BackupTargetError(message, extra.reason as BackupTargetReason, extra.lmdbCode)
    default: return new LmdbError(message, extra.lmdbCode ?? 'UNKNOWN', extra.errno ?? 0)
  }
}
