/**
 * The `lmdb-txn dump` format, version 1: text, one JSON object per line,
 * every line pure ASCII (characters above U+007E are written as \uXXXX
 * escapes), lines ending in "\n" ("\r\n" is accepted on load).
 *
 *   {"format":"lmdb-txn-dump","version":1,"created":"<ISO time>","tool":"lmdb-txn <version>"}
 *   {"key":"msg/abc","type":"group"}
 *   {"key":"msg/abc/body","type":"simple","utf8":"hello"}
 *   {"key":"msg/abc/raw","type":"simple","base64":"AQID"}
 *   {"key":"by-hash/xyz","type":"link","target":"msg/abc"}
 *   {"end":true,"entries":4}
 *
 * - Line 1 is the header: `format` and `version` are required (load refuses
 *   another version); other header fields are informational.
 * - Then one line per stored entry, in bytewise key order. `key` is the
 *   literal, normalised key. A simple value is `utf8` when its bytes are
 *   valid UTF-8, else `base64` (RFC 4648, padded). A group has no value. A
 *   link has the stored `target` path (not followed; it may dangle).
 * - The last line is the trailer with the number of entry lines; load
 *   refuses a dump without it (truncated) or with a different count.
 * - Empty lines are ignored. Unknown fields in an entry line are an error.
 * - `dump --changes` adds the change log after the entries, one line per
 *   record with its stored bytes (docs/format.md) in base64:
 *     {"change":7,"record":"AQ…"}
 *   and the trailer then counts them too: {"end":true,"entries":4,"changes":1}
 */
import { decodeRecord } from '../changes'
import { keyProblem } from './common'

export const DUMP_FORMAT = 'lmdb-txn-dump'
export const DUMP_VERSION = 1

export type DumpEntry =
  | { key: string, type: 'simple', value: Uint8Array | string }
  | { key: string, type: 'group' }
  | { key: string, type: 'link', target: string }

/** JSON with every character outside printable ASCII escaped. */
function asciiJson (value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g,
    (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

export function headerLine (tool: string, created = new Date()): string {
  return asciiJson({ format: DUMP_FORMAT, version: DUMP_VERSION, created: created.toISOString(), tool }) + '\n'
}

export function entryLine (entry: DumpEntry): string {
  switch (entry.type) {
    case 'group': return asciiJson({ key: entry.key, type: 'group' }) + '\n'
    case 'link': return asciiJson({ key: entry.key, type: 'link', target: entry.target }) + '\n'
    case 'simple': {
      const v = entry.value
      if (typeof v === 'string') return asciiJson({ key: entry.key, type: 'simple', utf8: v }) + '\n'
      let text: string | undefined
      try { text = utf8.decode(v) } catch { text = undefined }
      if (text !== undefined) return asciiJson({ key: entry.key, type: 'simple', utf8: text }) + '\n'
      return asciiJson({ key: entry.key, type: 'simple', base64: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') }) + '\n'
    }
  }
}

export function trailerLine (entries: number, changes?: number): string {
  return asciiJson(changes === undefined ? { end: true, entries } : { end: true, entries, changes }) + '\n'
}

export function changeLine (seq: number, record: Uint8Array): string {
  return asciiJson({ change: seq, record: Buffer.from(record.buffer, record.byteOffset, record.byteLength).toString('base64') }) + '\n'
}

export class DumpFormatError extends Error {
  constructor (readonly line: number, message: string) {
    super(`dump line ${line}: ${message}`)
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/**
 * Parses a dump line by line: feed() each line, then finish(). Checks
 * everything a load needs before anything is written.
 */
export class DumpParser {
  readonly entries: DumpEntry[] = []
  /** The change log, when the dump has one (dump --changes). */
  readonly changes: Array<{ seq: number, record: Buffer }> = []
  /** Bytes of keys and values, for sizing the load transaction. */
  bytes = 0
  #line = 0
  #sawHeader = false
  #sawEnd = false
  readonly #keys = new Set<string>()

  feed (raw: string): void {
    const lineNo = ++this.#line
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    if (text.trim() === '') return
    let obj: unknown
    try {
      obj = JSON.parse(text)
    } catch (err) {
      throw new DumpFormatError(lineNo, `not JSON (${(err as Error).message})`)
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw new DumpFormatError(lineNo, 'expected a JSON object')
    }
    const o = obj as Record<string, unknown>
    if (!this.#sawHeader) {
      if (o.format !== DUMP_FORMAT) throw new DumpFormatError(lineNo, `not an lmdb-txn dump (the first line must have "format":"${DUMP_FORMAT}")`)
      if (o.version !== DUMP_VERSION) {
        throw new DumpFormatError(lineNo, `dump format version ${JSON.stringify(o.version)} is not supported (this tool reads version ${DUMP_VERSION})`)
      }
      this.#sawHeader = true
      return
    }
    if (this.#sawEnd) throw new DumpFormatError(lineNo, 'text after the end line')
    if (o.end !== undefined) {
      if (o.end !== true || typeof o.entries !== 'number') throw new DumpFormatError(lineNo, 'malformed end line')
      if (o.entries !== this.entries.length) {
        throw new DumpFormatError(lineNo, `the end line counts ${o.entries} entries but the dump has ${this.entries.length}`)
      }
      if ((o.changes ?? 0) !== this.changes.length) {
        throw new DumpFormatError(lineNo, `the end line counts ${String(o.changes ?? 0)} change records but the dump has ${this.changes.length}`)
      }
      this.#sawEnd = true
      return
    }
    if (o.change !== undefined) {
      this.changes.push(this.#change(lineNo, o))
      return
    }
    if (this.changes.length > 0) throw new DumpFormatError(lineNo, 'an entry after the change records')
    this.entries.push(this.#entry(lineNo, o))
  }

  #change (lineNo: number, o: Record<string, unknown>): { seq: number, record: Buffer } {
    for (const k of Object.keys(o)) if (k !== 'change' && k !== 'record') throw new DumpFormatError(lineNo, `unknown field "${k}" in a change line`)
    const seq = o.change
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) throw new DumpFormatError(lineNo, '"change" must be a seq >= 1')
    const prev = this.changes[this.changes.length - 1]
    if (prev !== undefined && seq !== prev.seq + 1) throw new DumpFormatError(lineNo, `change ${seq} does not follow ${prev.seq}`)
    if (typeof o.record !== 'string' || !BASE64.test(o.record)) throw new DumpFormatError(lineNo, '"record" must be padded base64')
    const record = Buffer.from(o.record, 'base64')
    try {
      decodeRecord(seq, record)
    } catch (err) {
      throw new DumpFormatError(lineNo, (err as Error).message)
    }
    this.bytes += record.length
    return { seq, record }
  }

  /** Throws unless the dump was complete; returns its entries. */
  finish (): DumpEntry[] {
    if (!this.#sawHeader) throw new DumpFormatError(this.#line, 'empty input: no dump header')
    if (!this.#sawEnd) throw new DumpFormatError(this.#line, 'the dump is truncated: no end line')
    return this.entries
  }

  #entry (lineNo: number, o: Record<string, unknown>): DumpEntry {
    const allowed = (...names: string[]): void => {
      for (const k of Object.keys(o)) {
        if (!names.includes(k)) throw new DumpFormatError(lineNo, `unknown field "${k}" in a ${String(o.type)} entry`)
      }
    }
    if (typeof o.key !== 'string') throw new DumpFormatError(lineNo, 'an entry needs a string "key"')
    const key = o.key
    const problem = keyProblem(key)
    if (problem !== undefined) throw new DumpFormatError(lineNo, `key ${JSON.stringify(key)} ${problem}`)
    if (this.#keys.has(key)) throw new DumpFormatError(lineNo, `duplicate key ${JSON.stringify(key)}`)
    this.#keys.add(key)
    this.bytes += Buffer.byteLength(key)
    switch (o.type) {
      case 'group':
        allowed('key', 'type')
        return { key, type: 'group' }
      case 'link': {
        allowed('key', 'type', 'target')
        if (typeof o.target !== 'string') throw new DumpFormatError(lineNo, 'a link needs a string "target"')
        const p = keyProblem(o.target)
        if (p !== undefined) throw new DumpFormatError(lineNo, `link target ${JSON.stringify(o.target)} ${p}`)
        this.bytes += Buffer.byteLength(o.target)
        return { key, type: 'link', target: o.target }
      }
      case 'simple': {
        allowed('key', 'type', 'utf8', 'base64')
        if ((o.utf8 === undefined) === (o.base64 === undefined)) {
          throw new DumpFormatError(lineNo, 'a simple entry needs exactly one of "utf8" and "base64"')
        }
        if (o.utf8 !== undefined) {
          if (typeof o.utf8 !== 'string') throw new DumpFormatError(lineNo, '"utf8" must be a string')
          if (/\p{Cs}/u.test(o.utf8)) throw new DumpFormatError(lineNo, '"utf8" has an unpaired surrogate (use "base64")')
          this.bytes += Buffer.byteLength(o.utf8)
          return { key, type: 'simple', value: o.utf8 }
        }
        if (typeof o.base64 !== 'string' || !BASE64.test(o.base64)) {
          throw new DumpFormatError(lineNo, '"base64" must be padded base64 (RFC 4648)')
        }
        const value = Buffer.from(o.base64, 'base64')
        this.bytes += value.length
        return { key, type: 'simple', value }
      }
      default:
        throw new DumpFormatError(lineNo, `unknown entry type ${JSON.stringify(o.type)} (simple, group or link)`)
    }
  }
}
