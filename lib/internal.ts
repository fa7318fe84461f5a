/** Symbols for package-internal methods (not part of the public API). */

/** store[kTransactionSeq](fn): store.transaction(fn) resolving { value, seq }. */
export const kTransactionSeq: unique symbol = Symbol('lmdb-txn.transactionSeq')

/** store[kSyncGet](key): a value of the `sync` database at the latest commit. */
export const kSyncGet: unique symbol = Symbol('lmdb-txn.syncGet')

/** store[kRawChanges](after, limit): stored change records, undecoded (the wire payloads). */
export const kRawChanges: unique symbol = Symbol('lmdb-txn.rawChanges')

/** snapshot[kSnapshotNative]: its native txn. */
export const kSnapshotNative: unique symbol = Symbol('lmdb-txn.snapshotNative')

/** store[kRunSync](fn, where): one write transaction, fn(txn, native) (lmdb-txn load). */
export const kRunSync: unique symbol = Symbol('lmdb-txn.runSync')
