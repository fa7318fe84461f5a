/**
 * LMDB's dump text format, as written by `mdb_dump` and read by `mdb_load`
 * (VERSION=3): per database a header (`format=bytevalue|print`, optional
 * `database=<name>`, `type=btree`, `mapsize=`, flags such as `dupsort=1`,
 * `HEADER=END`), then one line per key and one per value, each starting with
 * a space, then `DATA=END`. bytevalue lines are lowercase hex; print lines
 * keep printable ASCII, write `\\` as `\\\\` and other bytes as `\\xx`.
 * Several databases follow each other (`mdb_dump -a`).
 */
import type { RawDatabase } from '../native'

// mdb_dump's names for persistent database flags (lmdb.h values)
const FLAG_NAMES: Array<[string, number]> = [
  ['reversekey', 0x02], ['dupsort', 0x04], ['integerkey', 0x08], ['dupfixed', 0x10], ['integerdup', 0x20], ['reversedup', 0x40]
]

export class MdbTextError extends Error {}

export interface MdbHeader { mapSize: number, pageSize: number, maxReaders: number }

function printable (b: Buffer): string {
  let s = ' '
  for (const c of b) {
    if (c >= 0x20 && c < 0x7f) s += c === 0x5c ? '\\\\' : String.fromCharCode(c)
    else s += '\\' + c.toString(16).padStart(2, '0')
  }
  return s + '\n'
}

/** One database block, exactly as `mdb_dump [-p] [-s name]` writes it. */
export function formatDatabase (db: RawDatabase, header: MdbHeader, print: boolean): string[] {
  const lines = ['VERSION=3\n', `format=${print ? 'print' : 'bytevalue'}\n`]
  if (db.name !== null) lines.push(`database=${db.name}\n`)
  lines.push('type=btree\n', `mapsize=${header.mapSize}\n`, `maxreaders=${header.maxReaders}\n`)
  for (const [name, bit] of FLAG_NAMES) if ((db.flags & bit) !== 0) lines.push(`${name}=1\n`)
  lines.push(`db_pagesize=${header.pageSize}\n`, 'HEADER=END\n')
  for (const b of db.pairs) lines.push(print ? printable(b) : ' ' + b.toString('hex') + '\n')
  lines.push('DATA=END\n')
  return lines
}

function unprint (s: string, line: number): Buffer {
  const out: number[] = []
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 0x5c) {
      if (s[i + 1] === '\\') { out.push(0x5c); i++; continue }
      const hex = s.slice(i + 1, i + 3)
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new MdbTextError(`line ${line}: bad escape in print format`)
      out.push(parseInt(hex, 16))
      i += 2
    } else if (c < 0x20 || c > 0x7e) {
      throw new MdbTextError(`line ${line}: byte ${c} is not printable ASCII (format=print escapes it as \\xx)`)
    } else {
      out.push(c)
    }
  }
  return Buffer.from(out)
}

/** Parses a whole dump (one or more database blocks); throws MdbTextError with a line number. */
export class MdbTextParser {
  readonly databases: Array<RawDatabase & { mapSize: number }> = []
  private state: 'start' | 'header' | 'data' = 'start'
  private current: (RawDatabase & { mapSize: number, print: boolean }) | undefined
  private line = 0

  feed (text: string): void {
    this.line++
    const n = this.line
    if (this.state === 'start') {
      if (text === '') return
      if (text !== 'VERSION=3') throw new MdbTextError(`line ${n}: expected VERSION=3 (an mdb_dump text dump), got ${JSON.stringify(text.slice(0, 40))}`)
      this.current = { name: null, flags: 0, pairs: [], mapSize: 0, print: false }
      this.state = 'header'
      return
    }
    const db = this.current!
    if (this.state === 'header') {
      if (text === 'HEADER=END') { this.state = 'data'; return }
      const eq = text.indexOf('=')
      if (eq <= 0) throw new MdbTextError(`line ${n}: expected name=value in the header`)
      const key = text.slice(0, eq)
      const value = text.slice(eq + 1)
      const flag = FLAG_NAMES.find(([name]) => name === key)
      if (key === 'format') {
        if (value !== 'bytevalue' && value !== 'print') throw new MdbTextError(`line ${n}: unsupported format=${value}`)
        db.print = value === 'print'
      } else if (key === 'database') {
        if (value === '' || value.includes('\0')) throw new MdbTextError(`line ${n}: bad database name`)
        db.name = value
      } else if (key === 'type') {
        if (value !== 'btree') throw new MdbTextError(`line ${n}: unsupported type=${value}`)
      } else if (key === 'mapsize') {
        if (!/^\d{1,16}$/.test(value)) throw new MdbTextError(`line ${n}: bad mapsize`)
        db.mapSize = Number(value)
      } else if (key === 'duplicates') {
        if (value === '1') db.flags |= 0x04
      } else if (flag !== undefined) {
        if (value === '1') db.flags |= flag[1]
      } else if (!['maxreaders', 'db_pagesize', 'mapaddr'].includes(key)) {
        throw new MdbTextError(`line ${n}: unknown header field ${key}`)
      }
      return
    }
    if (text === 'DATA=END') {
      if (db.pairs.length % 2 !== 0) throw new MdbTextError(`line ${n}: a key without a value before DATA=END`)
      this.databases.push({ name: db.name, flags: db.flags, pairs: db.pairs, mapSize: db.mapSize })
      this.current = undefined
      this.state = 'start'
      return
    }
    if (text[0] !== ' ') throw new MdbTextError(`line ${n}: data lines start with a space`)
    const body = text.slice(1)
    if (db.print) {
      db.pairs.push(unprint(body, n))
    } else {
      if (body.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(body)) throw new MdbTextError(`line ${n}: not hex (format=bytevalue)`)
      db.pairs.push(Buffer.from(body, 'hex'))
    }
  }

  finish (): Array<RawDatabase & { mapSize: number }> {
    if (this.state !== 'start') throw new MdbTextError(`truncated dump: no ${this.state === 'header' ? 'HEADER=END' : 'DATA=END'} at the end`)
    if (this.databases.length === 0) throw new MdbTextError('empty dump: no VERSION=3 block')
    return this.databases
  }
}
