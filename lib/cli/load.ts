/**
 * `lmdb-txn load <dir> [file]`: reads a dump, checks all of it, then writes
 * every entry in ONE transaction: a bad line, a truncated dump or a failed
 * commit leaves the store exactly as it was (and a store directory this
 * command created is removed again).
 */
import * as fs from 'node:fs'
import * as nodePath from 'node:path'
import * as readline from 'node:readline'
import { open, LmdbTxnError, type Store } from '../index'
import { addon } from '../native'
import { kRunSync } from '../internal'
import { CliError, EXIT_OK, formatCount, openError, type Output, UsageError } from './common'
import { MdbTextError, MdbTextParser } from './mdb-text'
import { progressOption, type Command } from './command'
import { DumpFormatError, DumpParser, type DumpEntry } from './dump-format'
import { Progress } from './progress'

export const load: Command = {
  name: 'load',
  usage: 'load <dir> [file] [--format mdb]',
  summary: 'restore a dump into a new or empty store in one transaction (all or nothing)',
  details: [
    '  Reads <file>, or stdin when it is "-" or absent. <dir> is created when',
    '  missing. The whole dump is checked before anything is written, then',
    '  written in one transaction.',
    '  --merge         also load into a store that has entries (dump entries',
    '                  replace the same keys; other keys stay)',
    '  --format mdb    read LMDB\'s mdb_dump text format (VERSION=3, bytevalue or',
    '                  print, one or more databases) and write its raw keys and',
    '                  values as they are, like mdb_load: nothing is checked',
    '                  against the lmdb-txn model (run check afterwards); a new',
    '                  store gets only the databases in the dump. All or nothing.',
    '  --no-progress   no progress bar (it is shown only when stdout is a terminal)'
  ].join('\n'),
  options: { merge: { type: 'boolean' }, format: { type: 'string' }, ...progressOption },
  minArgs: 1,
  maxArgs: 2,
  async run ({ args, opts, out }) {
    const dir = args[0]
    const file = args[1] === undefined || args[1] === '-' ? undefined : args[1]
    if (file === undefined && process.stdin.isTTY === true) {
      throw new UsageError('load reads a dump from stdin, which is a terminal: give a file or pipe the dump in')
    }
    const format = opts.format ?? 'lmdb-txn'
    if (format !== 'lmdb-txn' && format !== 'mdb') throw new UsageError(`load: --format is lmdb-txn (the default) or mdb, not ${String(format)}`)
    const showProgress = opts['no-progress'] !== true
    if (format === 'mdb') return await loadMdb(dir, file, opts.merge === true, showProgress, out)
    const { entries, changes } = await readDump(file, showProgress)

    const target = prepareDir(dir)
    let store: Store | undefined
    let committed = false
    try {
      try {
        store = open(target.abs, { limits: { maxOps: Number.MAX_SAFE_INTEGER, maxBytes: Number.MAX_SAFE_INTEGER }, changeLog: changes.length > 0 })
      } catch (err) {
        throw openError(dir, err)
      }
      const progress = new Progress('load', entries.length, { enabled: showProgress })
      try {
        store[kRunSync]((txn, native) => {
          if (opts.merge !== true && txn.keys({ limit: 1 }).length > 0) {
            throw new CliError(`${dir} already has entries: load into a new or empty store, or pass --merge`)
          }
          for (const e of entries) {
            if (e.type === 'simple') txn.write(e.key, e.value)
            else if (e.type === 'group') txn.makeGroup(e.key)
            else txn.makeLink(e.target, e.key)
            progress.tick()
          }
          // The log keeps its seqs; this transaction records no record of its own.
          for (const c of changes) native.restoreChange(c.seq, c.record)
        }, 'load')
        committed = true
      } catch (err) {
        if (err instanceof LmdbTxnError) throw new CliError(`load failed, nothing was written: ${err.message}`)
        throw err
      } finally {
        progress.clear()
      }
    } finally {
      store?.close()
      if (!committed) target.undo()
    }
    const n = (t: DumpEntry['type']): number => entries.filter((e) => e.type === t).length
    out.write(`loaded ${formatCount(entries.length, 'entry', 'entries')} (${formatCount(n('simple'), 'value')}, ` +
      `${formatCount(n('group'), 'group')}, ${formatCount(n('link'), 'link')})` +
      `${changes.length > 0 ? ` and ${formatCount(changes.length, 'change record')}` : ''} into ${dir}\n`)
    return EXIT_OK
  }
}

/** Raw load of an mdb_dump text dump (its own environment; open() is not used in this process). */
async function loadMdb (dir: string, file: string | undefined, merge: boolean, showProgress: boolean, out: Output): Promise<number> {
  const parser = new MdbTextParser()
  await readLines(file, showProgress, (line) => parser.feed(line), MdbTextError)
  let dbs
  try {
    dbs = parser.finish()
  } catch (err) {
    if (err instanceof MdbTextError) throw new CliError(`${file ?? 'stdin'}: ${err.message}; nothing was written`)
    throw err
  }
  const target = prepareDir(dir)
  if (target.existed && !merge) throw new CliError(`${dir} is a store already: load --format mdb into a new or empty directory, or pass --merge`)
  const mapSize = Math.max(0, ...dbs.map((d) => d.mapSize))
  let written: number
  try {
    written = addon.raw.load(target.abs, mapSize, dbs)
  } catch (err) {
    target.undo()
    throw new CliError(`load failed, nothing was written: ${(err as Error).message}`)
  }
  const names = dbs.map((d) => d.name ?? '(main)').join(', ')
  out.write(`loaded ${formatCount(written, 'record')} into ${formatCount(dbs.length, 'database')} (${names}) of ${dir}\n`)
  return EXIT_OK
}

async function readDump (file: string | undefined, showProgress: boolean): Promise<{ entries: DumpEntry[], changes: Array<{ seq: number, record: Buffer }> }> {
  const parser = new DumpParser()
  await readLines(file, showProgress, (line) => parser.feed(line), DumpFormatError)
  try {
    return { entries: parser.finish(), changes: parser.changes }
  } catch (err) {
    if (err instanceof DumpFormatError) throw new CliError(`${file ?? 'stdin'}: ${err.message}; nothing was written`)
    throw err
  }
}

async function readLines (file: string | undefined, showProgress: boolean, feed: (line: string) => void,
  FormatErrorClass: new (...args: any[]) => Error): Promise<void> {
  let input: NodeJS.ReadableStream
  let size: number | undefined
  if (file !== undefined) {
    try {
      size = fs.statSync(file).size
      input = fs.createReadStream(file)
    } catch (err) {
      throw new CliError(`cannot read ${file}: ${(err as Error).message}`)
    }
  } else {
    input = process.stdin
  }
  const source = file ?? 'stdin'
  const progress = new Progress('read', size, { enabled: showProgress })
  const lines = readline.createInterface({ input, crlfDelay: Infinity })
  const failed = new Promise<never>((_resolve, reject) => {
    input.on('error', (err: Error) => reject(new CliError(`cannot read ${source}: ${err.message}`)))
  })
  failed.catch(() => {})
  try {
    const consume = (async () => {
      for await (const line of lines) {
        feed(line)
        progress.tick(line.length + 1)
      }
    })()
    await Promise.race([consume, failed])
  } catch (err) {
    if (err instanceof FormatErrorClass) throw new CliError(`${source}: ${err.message}; nothing was written`)
    throw err
  } finally {
    progress.clear()
    lines.close()
  }
}

/**
 * Checks the target directory and remembers what this command creates, so a
 * failed load can remove it again.
 */
function prepareDir (dir: string): { abs: string, existed: boolean, undo: () => void } {
  const abs = nodePath.resolve(dir)
  let st: fs.Stats | undefined
  try {
    st = fs.statSync(abs)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CliError(`cannot access ${dir}: ${(err as Error).message}`)
  }
  if (st === undefined) {
    let created: string | undefined
    try {
      created = fs.mkdirSync(abs, { recursive: true })
    } catch (err) {
      throw new CliError(`cannot create ${dir}: ${(err as Error).message}`)
    }
    return { abs, existed: false, undo: () => { if (created !== undefined) fs.rmSync(created, { recursive: true, force: true }) } }
  }
  if (!st.isDirectory()) throw new CliError(`not a directory: ${dir}`)
  const names = fs.readdirSync(abs)
  if (names.includes('data.mdb')) return { abs, existed: true, undo: () => {} }
  if (names.length > 0) {
    throw new CliError(`not an lmdb-txn store: ${dir} (no data.mdb, and the directory is not empty); load into a new or empty directory`)
  }
  return {
    abs,
    existed: false,
    undo: () => {
      for (const f of ['data.mdb', 'lock.mdb']) fs.rmSync(nodePath.join(abs, f), { force: true })
    }
  }
}
