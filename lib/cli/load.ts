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
import { kRunSync } from '../internal'
import { CliError, EXIT_OK, formatCount, openError, UsageError } from './common'
import { progressOption, type Command } from './command'
import { DumpFormatError, DumpParser, type DumpEntry } from './dump-format'
import { Progress } from './progress'

export const load: Command = {
  name: 'load',
  usage: 'load <dir> [file]',
  summary: 'restore a dump into a new or empty store in one transaction (all or nothing)',
  details: [
    '  Reads <file>, or stdin when it is "-" or absent. <dir> is created when',
    '  missing. The whole dump is checked before anything is written, then',
    '  written in one transaction.',
    '  --merge         also load into a store that has entries (dump entries',
    '                  replace the same keys; other keys stay)',
    '  --no-progress   no progress bar (it is shown only when stdout is a terminal)'
  ].join('\n'),
  options: { merge: { type: 'boolean' }, ...progressOption },
  minArgs: 1,
  maxArgs: 2,
  async run ({ args, opts, out }) {
    const dir = args[0]
    const file = args[1] === undefined || args[1] === '-' ? undefined : args[1]
    if (file === undefined && process.stdin.isTTY === true) {
      throw new UsageError('load reads a dump from stdin, which is a terminal: give a file or pipe the dump in')
    }
    const showProgress = opts['no-progress'] !== true
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

async function readDump (file: string | undefined, showProgress: boolean): Promise<{ entries: DumpEntry[], changes: Array<{ seq: number, record: Buffer }> }> {
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
  const parser = new DumpParser()
  const progress = new Progress('read', size, { enabled: showProgress })
  const lines = readline.createInterface({ input, crlfDelay: Infinity })
  const failed = new Promise<never>((_resolve, reject) => {
    input.on('error', (err: Error) => reject(new CliError(`cannot read ${source}: ${err.message}`)))
  })
  failed.catch(() => {})
  try {
    const consume = (async () => {
      for await (const line of lines) {
        parser.feed(line)
        progress.tick(line.length + 1)
      }
    })()
    await Promise.race([consume, failed])
    return { entries: parser.finish(), changes: parser.changes }
  } catch (err) {
    if (err instanceof DumpFormatError) throw new CliError(`${source}: ${err.message}; nothing was written`)
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
function prepareDir (dir: string): { abs: string, undo: () => void } {
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
    return { abs, undo: () => { if (created !== undefined) fs.rmSync(created, { recursive: true, force: true }) } }
  }
  if (!st.isDirectory()) throw new CliError(`not a directory: ${dir}`)
  const names = fs.readdirSync(abs)
  if (names.includes('data.mdb')) return { abs, undo: () => {} }
  if (names.length > 0) {
    throw new CliError(`not an lmdb-txn store: ${dir} (no data.mdb, and the directory is not empty); load into a new or empty directory`)
  }
  return {
    abs,
    undo: () => {
      for (const f of ['data.mdb', 'lock.mdb']) fs.rmSync(nodePath.join(abs, f), { force: true })
    }
  }
}
