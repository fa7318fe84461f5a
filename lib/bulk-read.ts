/**
 * Whole-group reads (issue #17): readMessage, entries, iterate, readMany.
 * Each is ONE native call on one view (native/message_read.h) that returns
 * one fresh ArrayBuffer holding every value of the call; the values handed
 * out are views of it (`value.buffer` is that per-call buffer: it holds this
 * call's values and nothing else — never the map, never a shared pool). The
 * layout (records + names) comes in the thread's read buffer and is decoded
 * here at once, before anything else can overwrite it.
 */
import { addon, sharedReadBuffer, type BulkResult, type EntryType, type NativeReader } from './native'
import { booleanOption, describe, limitOption, methodOptions, stringOption } from './options'
import type { Fields, Message } from './message'

export type Encoding = 'binary' | 'utf8'

export interface ReadMessageOptions {
  /** Levels read: 1 = the message's own fields; deeper sub-groups are listed in `truncated`. Default Infinity. */
  depth?: number
  /** 'keep' (default): links inside the group come back in `links`; 'follow': read what they point at. */
  links?: 'keep' | 'follow'
  /** 'binary' (default): values as Uint8Array (Buffer); 'utf8': strings. */
  encoding?: Encoding
}

export interface ReadMessageResult extends Message {
  /** Always present (possibly empty): the links inside the group, bytewise by path. */
  links: Array<{ target: string, path: string }>
  /** Full paths of sub-groups not read because of `depth` (absent when none). */
  truncated?: string[]
}

export interface EntryInfo {
  /** undefined for a name that has no entry of its own (an implicit parent). */
  type: EntryType | undefined
  /** A simple entry's value (unless `values: false`). */
  value?: Uint8Array | string
  /** A link's stored target (not followed). */
  target?: string
}

export interface EntriesOptions {
  after?: string
  limit?: number
  /** Include simple entries' values (default true). */
  values?: boolean
  encoding?: Encoding
}

export interface IterateOptions {
  after?: string
  /** Include values (default true). */
  values?: boolean
  encoding?: Encoding
  /** Entries per native call (default 256). */
  pageSize?: number
}

export interface ReadManyOptions {
  encoding?: Encoding
}

// Buffer#utf8Slice: toString('utf8', start, end) without its argument
// handling (~10 % of a whole-message read); in every Node since 0.x but not
// in @types/node (typed here locally: an augmentation would reach users).
type Sliceable = Buffer & { utf8Slice: (start: number, end: number) => string }

const metaWords = new Uint32Array(sharedReadBuffer)
const metaBytes = Buffer.from(sharedReadBuffer) as Sliceable

const K_VALUE = 1
const K_GROUP = 2
const K_LINK = 3
const K_TRUNCATED = 4
const TYPES: Array<EntryType | undefined> = [undefined, 'simple', 'group', 'link']

/** A decoded call: records as u32 words, names in `strings`, values in `values`. */
class Layout {
  readonly words: Uint32Array
  readonly count: number
  readonly strings: Sliceable
  readonly stringsAt: number
  readonly values: Sliceable
  readonly utf8: boolean

  constructor (result: BulkResult, utf8: boolean) {
    let meta: ArrayBuffer | undefined
    let values: ArrayBuffer
    if (Array.isArray(result)) [values, meta] = result
    else values = result
    this.words = meta === undefined ? metaWords : new Uint32Array(meta, 0, new Uint32Array(meta, 0, 2)[0] + 2)
    this.strings = meta === undefined ? metaBytes : Buffer.from(meta) as Sliceable
    this.count = this.words[0]
    this.stringsAt = 8 + 4 * this.count
    this.values = Buffer.from(values) as Sliceable
    this.utf8 = utf8
  }

  str (w: number): string {
    const at = this.stringsAt + this.words[w]
    return this.strings.utf8Slice(at, at + this.words[w + 1])
  }

  value (w: number): Uint8Array | string {
    const off = this.words[w]
    const len = this.words[w + 1]
    if (this.utf8) return this.values.utf8Slice(off, off + len)
    return Buffer.from(this.values.buffer, off, len)
  }
}

function encodingOption (o: Record<string, unknown>): boolean {
  const v = o.encoding
  if (v === undefined || v === 'binary') return false
  if (v === 'utf8') return true
  throw new TypeError(`options.encoding must be 'binary' or 'utf8', got ${describe(v)}`)
}

export function readMessage (reader: NativeReader, path: string, opts: ReadMessageOptions | undefined): ReadMessageResult | undefined {
  const o = methodOptions(opts, ['depth', 'links', 'encoding'], 'readMessage()')
  const depth = o.depth ?? Infinity
  if (typeof depth !== 'number' || !(depth === Infinity || (Number.isInteger(depth) && depth >= 1))) {
    throw new RangeError(`options.depth must be a positive integer or Infinity, got ${describe(depth)}`)
  }
  const links = o.links ?? 'keep'
  if (links !== 'keep' && links !== 'follow') throw new TypeError(`options.links must be 'keep' or 'follow', got ${describe(links)}`)
  const utf8 = encodingOption(o)
  const result = reader.readMessage(path, depth, links === 'follow')
  if (result === undefined) return undefined
  const l = new Layout(result, utf8)
  const w = l.words
  const root: Fields = {}
  const out: ReadMessageResult = { path: l.str(4), fields: root, links: [] }
  const groups: Array<Fields | undefined> = [root]
  for (let i = 8; i < l.count + 2; i += 6) {
    const kind = w[i]
    if (kind === K_VALUE) {
      groups[w[i + 1]]![l.str(i + 2)] = l.value(i + 4)
      groups.push(undefined)
    } else if (kind === K_GROUP) {
      const g: Fields = {}
      groups[w[i + 1]]![l.str(i + 2)] = g
      groups.push(g)
    } else if (kind === K_LINK) {
      out.links.push({ target: l.str(i + 4), path: l.str(i + 2) })
      groups.push(undefined)
    } else if (kind === K_TRUNCATED) {
      (out.truncated ??= []).push(l.str(i + 2))
      groups.push(undefined)
    }
  }
  return out
}

function decodeEntries (l: Layout, values: boolean, out: Array<[string, EntryInfo]>): void {
  const w = l.words
  for (let i = 2; i < l.count + 2; i += 5) {
    const kind = w[i]
    const info: EntryInfo = { type: TYPES[kind] }
    if (kind === K_VALUE && values) info.value = l.value(i + 3)
    else if (kind === K_LINK) info.target = l.str(i + 3)
    out.push([l.str(i + 1), info])
  }
}

export function entries (reader: NativeReader, path: string, opts: EntriesOptions | undefined): Array<[string, EntryInfo]> {
  const o = methodOptions(opts, ['after', 'limit', 'values', 'encoding'], 'entries()')
  const after = stringOption(o, 'after')
  const limit = limitOption(o)
  const values = booleanOption(o, 'values', true)
  const utf8 = encodingOption(o)
  const out: Array<[string, EntryInfo]> = []
  decodeEntries(new Layout(reader.entries(path, after, limit, values), utf8), values, out)
  return out
}

export function readMany (reader: NativeReader, paths: string[], opts: ReadManyOptions | undefined): Array<Uint8Array | string | undefined> {
  const utf8 = encodingOption(methodOptions(opts, ['encoding'], 'readMany()'))
  if (!Array.isArray(paths)) throw new TypeError(`paths must be an array of strings, got ${describe(paths)}`)
  const l = new Layout(reader.readMany(paths), utf8)
  const w = l.words
  const out = new Array<Uint8Array | string | undefined>(paths.length)
  for (let i = 2, j = 0; i < l.count + 2; i += 3, j++) out[j] = w[i] === 1 ? l.value(i + 1) : undefined
  return out
}

/** Where iterate() reads its pages: the view itself, or (Store) a snapshot released at the end. */
export interface PageSource { reader: NativeReader, release: () => void }

/**
 * iterate(): pages of `pageSize` entries, every page from `open()`'s one
 * view; released when exhausted, on return() (break) and on throw. Nothing
 * is opened before the first next(). An abandoned iterator's snapshot is
 * closed by the native finalizer when it is collected.
 */
export function iterate (open: () => PageSource, what: unknown, opts: IterateOptions | undefined): Generator<[string, EntryInfo], void, undefined> {
  const o = methodOptions(opts, ['after', 'values', 'encoding', 'pageSize'], 'iterate()')
  let path: string | undefined
  let prefix: string | undefined
  if (typeof what === 'string') {
    path = what
  } else if (what !== null && typeof what === 'object' && !Array.isArray(what) && Object.keys(what).length === 1 && typeof (what as { prefix?: unknown }).prefix === 'string') {
    prefix = (what as { prefix: string }).prefix
  } else {
    throw new TypeError(`iterate() expects a path or { prefix: string }, got ${describe(what)}`)
  }
  const firstAfter = stringOption(o, 'after')
  const values = booleanOption(o, 'values', true)
  const utf8 = encodingOption(o)
  const pageSize = o.pageSize ?? 256
  if (typeof pageSize !== 'number' || !Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1 << 24) {
    throw new RangeError(`options.pageSize must be an integer from 1 to ${1 << 24}, got ${describe(pageSize)}`)
  }
  // A bad path throws here, not at the first next().
  if (path !== undefined) addon.normalizePath(path, 'path')
  return pages(open, path, prefix, firstAfter, values, utf8, pageSize)
}

function * pages (open: () => PageSource, path: string | undefined, prefix: string | undefined, firstAfter: string | undefined,
  values: boolean, utf8: boolean, pageSize: number): Generator<[string, EntryInfo], void, undefined> {
  const source = open()
  try {
    let after = firstAfter
    for (;;) {
      const page: Array<[string, EntryInfo]> = []
      const raw = path !== undefined
        ? source.reader.entries(path, after, pageSize, values)
        : source.reader.keyEntries(prefix!, after, pageSize, values)
      decodeEntries(new Layout(raw, utf8), values, page)
      for (const entry of page) yield entry // not yield*: an array iterator has no throw()
      if (page.length < pageSize) return
      after = page[page.length - 1][0]
    }
  } finally {
    source.release()
  }
}
