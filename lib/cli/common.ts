/**
 * Shared pieces of the command-line tool: errors that end a run with a
 * one-line message, opening a store directory without creating anything,
 * path checks, byte formatting and a stdout writer that respects pipes.
 */
import * as fs from 'node:fs'
import * as nodePath from 'node:path'
import { open, FormatError, LmdbTxnError, type OpenOptions, type Store } from '../index'

/** Exit codes: 0 success, 1 a problem (see each command), 2 a usage mistake. */
export const EXIT_OK = 0
export const EXIT_PROBLEM = 1
export const EXIT_USAGE = 2

/** Ends the run with `lmdb-txn: <message>` on stderr and `exitCode`; no stack trace. */
export class CliError extends Error {
  constructor (message: string, readonly exitCode = EXIT_PROBLEM) {
    super(message)
  }
}

export class UsageError extends CliError {
  constructor (message: string) { super(message, EXIT_USAGE) }
}

/**
 * The one parser of integer options (`--limit 10`): digits only (no sign,
 * exponent, fraction or blank), a safe integer within [min, max]; undefined
 * when the option is absent. A bad value is a UsageError worded the same way
 * for every command.
 */
export function intOption (value: string | boolean | undefined, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER
      ? (min === 0 ? 'a non-negative integer' : min === 1 ? 'a positive integer' : `an integer >= ${min}`)
      : `an integer ${min}..${max}`
    throw new UsageError(`--${name} must be ${range}, got ${typeof value === 'string' ? JSON.stringify(value) : 'no value'}`)
  }
  return n
}

/** LMDB's key limit in bytes (SPEC §2). */
export const MAX_KEY_BYTES = 511

/**
 * Checks that `dir` is an existing directory holding an LMDB data file,
 * without creating anything, and returns its absolute path.
 */
export function existingStoreDir (dir: string): string {
  const abs = nodePath.resolve(dir)
  let st: fs.Stats
  try {
    st = fs.statSync(abs)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new CliError(`no such directory: ${dir}`)
    throw new CliError(`cannot access ${dir}: ${(err as Error).message}`)
  }
  if (!st.isDirectory()) throw new CliError(`not a directory: ${dir}`)
  if (!fs.existsSync(nodePath.join(abs, 'data.mdb'))) {
    throw new CliError(`not an lmdb-txn store: ${dir} (no data.mdb in it)`)
  }
  return abs
}

/** Turns an error from open() into a one-line CliError. */
export function openError (dir: string, err: unknown): CliError {
  if (err instanceof FormatError) {
    const why = stripQuotedPath(err.message)
    if (/format version/.test(why)) return new CliError(`${dir} ${why}`)
    return new CliError(`not an lmdb-txn store: ${dir} (${why.replace(/^(holds|is|has) /, '$1 ')})`)
  }
  if (err instanceof LmdbTxnError) return new CliError(`cannot open ${dir}: ${err.message}`)
  return new CliError(`cannot open ${dir}: ${(err as Error)?.message ?? String(err)}`)
}

// FormatError messages start with the quoted absolute path; the user's
// spelling of the directory is already in front of it.
function stripQuotedPath (message: string): string {
  return message.replace(/^'[^']*' /, '')
}

/** Opens an existing store read-only (nothing is created or written). */
export function openExisting (dir: string, options: OpenOptions = {}): Store {
  const abs = existingStoreDir(dir)
  try {
    return open(abs, { ...options, readOnly: true })
  } catch (err) {
    throw openError(dir, err)
  }
}

/** `a//b/` → `a/b`, as the library normalises paths. */
export function normalizePath (path: string): string {
  return path.split('/').filter((s) => s !== '').join('/')
}

/**
 * Why a string cannot be a stored key (or link target) in normalised form,
 * or undefined when it can.
 */
export function keyProblem (key: string): string | undefined {
  if (key === '') return 'is empty'
  if (key.includes('\0')) return 'contains a NUL byte'
  if (/\p{Cs}/u.test(key)) return 'has an unpaired UTF-16 surrogate (not representable in UTF-8)'
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) return `is longer than ${MAX_KEY_BYTES} bytes`
  const segments = key.split('/')
  if (segments.some((s) => s === '')) return 'is not a normalised path (empty segment or leading/trailing "/")'
  if (segments.some((s) => s === '.' || s === '..')) return 'has a "." or ".." segment'
  return undefined
}

/** Bytewise (UTF-8) order, the order of LMDB keys and of list(). */
export function compareBytewise (a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

export function formatBytes (n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let v = n
  let i = -1
  do { v /= 1024; i++ } while (v >= 1024 && i < units.length - 1)
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`
}

export function formatCount (n: number, one: string, many = one + 's'): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`
}

/** The package version, read from package.json next to dist/. */
export function packageVersion (): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(nodePath.join(__dirname, '..', '..', 'package.json'), 'utf8'))
    return String(pkg.version)
  } catch {
    return 'unknown'
  }
}

/**
 * Buffered output to a stream (stdout) or a file descriptor. Waits for
 * 'drain' when the stream asks, so a large dump into a slow pipe does not
 * pile up in memory; a closed pipe (EPIPE, e.g. `| head`) ends quietly.
 */
export class Output {
  #chunks: Array<string | Uint8Array> = []
  #size = 0
  #closed = false
  #error: Error | undefined
  readonly #stream: NodeJS.WritableStream | undefined
  readonly #fd: number | undefined

  constructor (target: NodeJS.WritableStream | number) {
    if (typeof target === 'number') this.#fd = target
    else {
      this.#stream = target
      target.on('error', (err: NodeJS.ErrnoException) => {
        this.#closed = true
        if (err.code !== 'EPIPE') this.#error = err  // EPIPE: the reader went away (`| head`)
      })
    }
  }

  /** True once the reader went away; callers may stop producing. */
  get closed (): boolean { return this.#closed }

  /** Queues text or bytes; call flush() (awaited) now and then and at the end. */
  write (text: string | Uint8Array): void {
    if (this.#closed) return
    this.#chunks.push(text)
    this.#size += text.length
  }

  get pending (): number { return this.#size }

  async flush (): Promise<void> {
    if (this.#error !== undefined) throw new CliError(`cannot write the output: ${this.#error.message}`)
    if (this.#chunks.length === 0 || this.#closed) { this.#chunks = []; this.#size = 0; return }
    const buf = Buffer.concat(this.#chunks.map((c) => typeof c === 'string' ? Buffer.from(c) : c))
    this.#chunks = []
    this.#size = 0
    if (this.#fd !== undefined) {
      let off = 0
      while (off < buf.length) off += fs.writeSync(this.#fd, buf, off)
      return
    }
    const stream = this.#stream!
    if (!stream.write(buf)) {
      await new Promise<void>((resolve) => {
        const done = (): void => { stream.off('drain', done); stream.off('close', done); resolve() }
        stream.on('drain', done)
        stream.on('close', done)
      })
    }
  }
}
