/**
 * The read methods shared by Store, Transaction and Snapshot. All of them
 * resolve paths by one native rule (SPEC §2), so they always agree.
 */
import { readResult, type EntryType, type NativeReader } from './native'
import { booleanOption, limitOption, methodOptions, stringOption } from './options'
import {
  entries, iterate, readMany, readMessage, type EntriesOptions, type EntryInfo, type IterateOptions, type PageSource,
  type ReadManyOptions, type ReadMessageOptions, type ReadMessageResult
} from './bulk-read'

export interface TypeOptions {
  /** Follow a link at the path itself (default true); false shows the link. */
  follow?: boolean
}

export interface ListOptions {
  /** Only names bytewise after this one (for paging). */
  after?: string
  /** At most this many names. */
  limit?: number
}

function typeFollow (opts: TypeOptions | undefined): boolean {
  return booleanOption(methodOptions(opts, ['follow'], 'type()'), 'follow', true)
}

function list (reader: NativeReader, path: string, opts: ListOptions | undefined): string[] {
  const o = methodOptions(opts, ['after', 'limit'], 'list()')
  return reader.list(path, stringOption(o, 'after'), limitOption(o))
}

export interface KeysOptions {
  /** Only keys starting with these bytes (not normalised; '' = all). */
  prefix?: string
  /** Only keys bytewise after this one (for paging). */
  after?: string
  /** At most this many keys. */
  limit?: number
}

function keys (reader: NativeReader, opts: KeysOptions | undefined): string[] {
  const o = methodOptions(opts, ['prefix', 'after', 'limit'], 'keys()')
  return reader.keys(stringOption(o, 'prefix') ?? '', stringOption(o, 'after'), limitOption(o))
}

/** The read surface every view of the store offers. */
export interface Readable {
  read (path: string): Uint8Array | undefined
  readString (path: string): string | undefined
  readInto (path: string, target: Uint8Array): number | undefined
  type (path: string, opts?: TypeOptions): EntryType | undefined
  list (path: string, opts?: ListOptions): string[]
  resolve (path: string): string
  exists (path: string): boolean
  keys (opts?: KeysOptions): string[]
  readLink (path: string): string | undefined
  readMessage (path: string, opts?: ReadMessageOptions): ReadMessageResult | undefined
  entries (path: string, opts?: EntriesOptions): Array<[string, EntryInfo]>
  iterate (pathOrPrefix: string | { prefix: string }, opts?: IterateOptions): Generator<[string, EntryInfo], void, undefined>
  readMany (paths: string[], opts?: ReadManyOptions): Array<Uint8Array | string | undefined>
}

/**
 * The read methods, written once for Store, Transaction and Snapshot: each
 * is one native call on the view's reader (the store's renewed read txn, the
 * write txn, or the snapshot's txn).
 */
export abstract class ReadView implements Readable {
  readonly #reader: NativeReader
  readonly #pages: () => PageSource

  /** `pages`: where iterate() reads (default: this view itself, never released). */
  protected constructor (reader: NativeReader, pages?: () => PageSource) {
    this.#reader = reader
    this.#pages = pages ?? (() => ({ reader, release: () => {} }))
  }

  /** The value at `path` (links followed): a copy owned by the caller; a group reads as undefined. */
  read (path: string): Uint8Array | undefined { return readResult(this.#reader.read(path)) }
  readString (path: string): string | undefined { return this.#reader.readString(path) }
  /**
   * Copies the value at `path` (links followed) into `target` without
   * allocating; returns its length, or undefined when there is no value.
   * Nothing is copied when the length exceeds `target.byteLength`.
   */
  readInto (path: string, target: Uint8Array): number | undefined { return this.#reader.readInto(path, target) }
  type (path: string, opts?: TypeOptions): EntryType | undefined { return this.#reader.type(path, typeFollow(opts)) }
  list (path: string, opts?: ListOptions): string[] { return list(this.#reader, path, opts) }
  resolve (path: string): string { return this.#reader.resolve(path) }
  exists (path: string): boolean { return this.#reader.exists(path) }
  /** Literal keys in bytewise order, no link followed (an addition for tools; see docs/api.md). */
  keys (opts?: KeysOptions): string[] { return keys(this.#reader, opts) }
  /** The stored target when the literal key is a link (no link is followed); else undefined. */
  readLink (path: string): string | undefined { return this.#reader.readLink(path) }
  /**
   * The inverse of writeMessage: `{ path, fields, links }` of the group at
   * `path` (a link there is followed), in one native call from one view;
   * undefined when nothing is there; InvalidPathError when it is not a group.
   */
  readMessage (path: string, opts?: ReadMessageOptions): ReadMessageResult | undefined { return readMessage(this.#reader, path, opts) }
  /** `[name, { type, value?, target? }]` of the children of `path`, paged like list(), in one call. */
  entries (path: string, opts?: EntriesOptions): Array<[string, EntryInfo]> { return entries(this.#reader, path, opts) }
  /**
   * A lazy iterator over the children of `path` (or the literal keys under
   * `{ prefix }`), page by page from one view: on a Store a snapshot, taken
   * at the first next() and released at the end, on break and on throw.
   */
  iterate (pathOrPrefix: string | { prefix: string }, opts?: IterateOptions): Generator<[string, EntryInfo], void, undefined> {
    return iterate(this.#pages, pathOrPrefix, opts)
  }

  /** The values at `paths` (links followed; undefined where none), in one call from one view. */
  readMany (paths: string[], opts?: ReadManyOptions): Array<Uint8Array | string | undefined> { return readMany(this.#reader, paths, opts) }
}
