/**
 * The read methods shared by Store, Transaction and Snapshot. All of them
 * resolve paths by one native rule (SPEC §2), so they always agree.
 */
import type { EntryType, NativeReader } from './native'
import { describe } from './options'

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

export function typeFollow (opts: TypeOptions | undefined): boolean {
  if (opts === undefined) return true
  if (opts === null || typeof opts !== 'object') throw new TypeError(`options must be an object, got ${describe(opts)}`)
  if (opts.follow === undefined) return true
  if (typeof opts.follow !== 'boolean') throw new TypeError(`options.follow must be a boolean, got ${describe(opts.follow)}`)
  return opts.follow
}

export function list (reader: NativeReader, path: string, opts: ListOptions | undefined): string[] {
  if (opts === undefined) return reader.list(path, undefined, undefined)
  if (opts === null || typeof opts !== 'object') throw new TypeError(`options must be an object, got ${describe(opts)}`)
  const { after, limit } = opts
  if (after !== undefined && typeof after !== 'string') {
    throw new TypeError(`options.after must be a string, got ${describe(after)}`)
  }
  if (limit !== undefined && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0)) {
    throw new RangeError(`options.limit must be a non-negative integer, got ${describe(limit)}`)
  }
  return reader.list(path, after, limit)
}

export interface KeysOptions {
  /** Only keys starting with these bytes (not normalised; '' = all). */
  prefix?: string
  /** Only keys bytewise after this one (for paging). */
  after?: string
  /** At most this many keys. */
  limit?: number
}

export function keys (reader: NativeReader, opts: KeysOptions | undefined): string[] {
  if (opts === undefined) return reader.keys('', undefined, undefined)
  if (opts === null || typeof opts !== 'object') throw new TypeError(`options must be an object, got ${describe(opts)}`)
  const { prefix, after, limit } = opts
  if (prefix !== undefined && typeof prefix !== 'string') throw new TypeError(`options.prefix must be a string, got ${describe(prefix)}`)
  if (after !== undefined && typeof after !== 'string') throw new TypeError(`options.after must be a string, got ${describe(after)}`)
  if (limit !== undefined && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0)) {
    throw new RangeError(`options.limit must be a non-negative integer, got ${describe(limit)}`)
  }
  return reader.keys(prefix ?? '', after, limit)
}

/** The read surface every view of the store offers. */
export interface Readable {
  read (path: string): Uint8Array | undefined
  readString (path: string): string | undefined
  type (path: string, opts?: TypeOptions): EntryType | undefined
  list (path: string, opts?: ListOptions): string[]
  resolve (path: string): string
  exists (path: string): boolean
  keys (opts?: KeysOptions): string[]
  readLink (path: string): string | undefined
}
