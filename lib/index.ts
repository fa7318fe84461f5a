export { open, Store, type StoreStat, type StoreOptions, type ChangesOptions, type WatchOptions } from './store'
export type { Change, ChangeOp, ChangeLogStat } from './changes'
export { applyChange } from './changes'
export type { ReplicaStat } from './sync-state'
export { Transaction, type RemoveOptions } from './transaction'
export { Snapshot } from './snapshot'
export type { OpenOptions, Durability, Limits } from './options'
export type { ListOptions, TypeOptions, KeysOptions, Readable, ReadView } from './reader'
export type { ReadMessageOptions, ReadMessageResult, EntriesOptions, EntryInfo, IterateOptions, ReadManyOptions, Encoding } from './bulk-read'
export type { EntryType } from './native'
export type { Message, Fields, FieldValue } from './message'
export type { BatchOp, BatchOptions, BatchResult } from './batch'
export type { GroupCommitStats } from './group-commit'
export {
  LmdbTxnError,
  InvalidPathError,
  KeyTooLongError,
  TransactionBusyError,
  TransactionFinishedError,
  TransactionTooLargeError,
  MapFullError,
  LinkLoopError,
  DuplicateKeyError,
  BatchError,
  StoreClosedError,
  ReadOnlyError,
  FormatError,
  BackupTargetError,
  type BackupTargetReason,
  LmdbError
} from './errors'
export type { BackupOptions, BackupResult } from './backup'
import { addon } from './native'
/** Version of the LMDB library linked into the addon. */
export const lmdbVersion: string = addon.lmdbVersion
