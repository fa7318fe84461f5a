/**
 * open() options: defaults and validation. Every mistake is a TypeError or
 * RangeError naming the option, thrown before anything touches the disk.
 */
import { addon } from './native'

export type Durability = 'sync' | 'nometasync' | 'nosync'

export interface Limits {
  /** Mutating operations per transaction or batch. Default 1,000,000. */
  maxOps?: number
  /** Key + value bytes written per transaction or batch. Default 256 MiB. */
  maxBytes?: number
}

export interface OpenOptions {
  /** Initial map size in bytes. Default 256 MiB; grows on its own. */
  mapSize?: number
  /** Growth ceiling in bytes; MapFullError past it. Default 1 TiB. */
  maxMapSize?: number
  /** Default 'sync'. */
  durability?: Durability
  readOnly?: boolean
  /** LMDB reader slots shared by every process. Default 126. */
  maxReaders?: number
  /** Links followed while resolving one path. Default 32. */
  maxLinkDepth?: number
  limits?: Limits
  /**
   * Record every committed transaction in the change log (SPEC §11.1,
   * docs/replication.md). Once on it stays on for the store, for every
   * process and handle: a store's log never misses a transaction.
   */
  changeLog?: boolean
}

export interface ResolvedOptions {
  mapSize: number
  maxMapSize: number
  durability: Durability
  readOnly: boolean
  maxReaders: number
  maxLinkDepth: number
  limits: Required<Limits>
  changeLog: boolean
}

const MiB = 1024 * 1024
export const DEFAULTS: ResolvedOptions = Object.freeze({
  mapSize: 256 * MiB,
  maxMapSize: 1024 * 1024 * MiB,
  durability: 'sync',
  readOnly: false,
  maxReaders: 126,
  maxLinkDepth: 32,
  limits: Object.freeze({ maxOps: 1_000_000, maxBytes: 256 * MiB }),
  changeLog: false
}) as ResolvedOptions

const KNOWN = new Set(['mapSize', 'maxMapSize', 'durability', 'readOnly', 'maxReaders', 'maxLinkDepth', 'limits', 'changeLog'])
const DURABILITY: Record<Durability, () => number> = {
  sync: () => 0,
  nometasync: () => addon.MDB_NOMETASYNC,
  nosync: () => addon.MDB_NOSYNC
}

function integer (name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer, got ${describe(value)}`)
  }
  if (value < min || value > max) throw new RangeError(`${name} must be between ${min} and ${max}, got ${value}`)
  return value
}

export function describe (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'null prototype'})`
  return `${typeof value} ${String(value)}`
}

export function resolveOptions (options: unknown): ResolvedOptions {
  if (options === undefined) return { ...DEFAULTS, limits: { ...DEFAULTS.limits } }
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`options must be an object, got ${describe(options)}`)
  }
  const o = options as Record<string, unknown>
  for (const key of Object.keys(o)) {
    if (!KNOWN.has(key)) throw new TypeError(`unknown option '${key}' (known: ${[...KNOWN].join(', ')})`)
  }
  const out: ResolvedOptions = { ...DEFAULTS, limits: { ...DEFAULTS.limits } }
  if (o.mapSize !== undefined) out.mapSize = integer('mapSize', o.mapSize, 16 * 1024)
  if (o.maxMapSize !== undefined) out.maxMapSize = integer('maxMapSize', o.maxMapSize, 16 * 1024)
  if (o.mapSize !== undefined && o.maxMapSize === undefined) out.maxMapSize = Math.max(out.maxMapSize, out.mapSize)
  if (o.maxMapSize !== undefined && o.mapSize === undefined) out.mapSize = Math.min(out.mapSize, out.maxMapSize)
  if (out.mapSize > out.maxMapSize) {
    throw new RangeError(`mapSize (${out.mapSize}) must not exceed maxMapSize (${out.maxMapSize})`)
  }
  if (o.durability !== undefined) {
    if (typeof o.durability !== 'string' || !Object.hasOwn(DURABILITY, o.durability)) {
      throw new TypeError(`durability must be 'sync', 'nometasync' or 'nosync', got ${describe(o.durability)}`)
    }
    out.durability = o.durability as Durability
  }
  if (o.readOnly !== undefined) {
    if (typeof o.readOnly !== 'boolean') throw new TypeError(`readOnly must be a boolean, got ${describe(o.readOnly)}`)
    out.readOnly = o.readOnly
  }
  if (o.changeLog !== undefined) {
    if (typeof o.changeLog !== 'boolean') throw new TypeError(`changeLog must be a boolean, got ${describe(o.changeLog)}`)
    out.changeLog = o.changeLog
  }
  if (o.maxReaders !== undefined) out.maxReaders = integer('maxReaders', o.maxReaders, 1, 1 << 20)
  if (o.maxLinkDepth !== undefined) out.maxLinkDepth = integer('maxLinkDepth', o.maxLinkDepth, 0, 1 << 16)
  if (o.limits !== undefined) {
    if (o.limits === null || typeof o.limits !== 'object' || Array.isArray(o.limits)) {
      throw new TypeError(`limits must be an object, got ${describe(o.limits)}`)
    }
    const l = o.limits as Record<string, unknown>
    for (const key of Object.keys(l)) {
      if (key !== 'maxOps' && key !== 'maxBytes') throw new TypeError(`unknown option 'limits.${key}' (known: maxOps, maxBytes)`)
    }
    if (l.maxOps !== undefined) out.limits.maxOps = integer('limits.maxOps', l.maxOps, 1)
    if (l.maxBytes !== undefined) out.limits.maxBytes = integer('limits.maxBytes', l.maxBytes, 1)
  }
  return out
}

export function durabilityFlags (durability: Durability): number {
  return DURABILITY[durability]()
}

// Per-call option bags (list, keys, type, remove, batch): one way to check them.

/**
 * A method's options object, `{}` when omitted. A key outside `known` is a
 * TypeError, as in open(): a misspelt option (`{ recusive: true }`) must not
 * be silently ignored.
 */
export function methodOptions (opts: unknown, known: readonly string[], where: string): Record<string, unknown> {
  if (opts === undefined) return {}
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw new TypeError(`${where}: options must be an object, got ${describe(opts)}`)
  for (const key of Object.keys(opts)) {
    if (!known.includes(key)) throw new TypeError(`${where}: unknown option '${key}' (known: ${known.join(', ')})`)
  }
  return opts as Record<string, unknown>
}

export function booleanOption (o: Record<string, unknown>, name: string, fallback: boolean): boolean {
  const v = o[name]
  if (v === undefined) return fallback
  if (typeof v !== 'boolean') throw new TypeError(`options.${name} must be a boolean, got ${describe(v)}`)
  return v
}

export function stringOption (o: Record<string, unknown>, name: string): string | undefined {
  const v = o[name]
  if (v !== undefined && typeof v !== 'string') throw new TypeError(`options.${name} must be a string, got ${describe(v)}`)
  return v
}

export function limitOption (o: Record<string, unknown>): number | undefined {
  const v = o.limit
  if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0)) {
    throw new RangeError(`options.limit must be a non-negative integer, got ${describe(v)}`)
  }
  return v
}
