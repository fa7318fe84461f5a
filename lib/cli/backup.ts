/**
 * `lmdb-txn backup <dir> <dest> [--compact]`: store.backup() from the command
 * line. The source is opened read-only (nothing is written to it). On a
 * terminal, stderr shows a progress line: the size of dest/data.mdb.partial
 * against the source's used bytes, redrawn every 200 ms.
 */
import * as fs from 'node:fs'
import * as nodePath from 'node:path'
import { BackupTargetError, LmdbTxnError } from '../index'
import { PARTIAL_NAME } from '../backup'
import { CliError, EXIT_OK, formatBytes, openExisting } from './common'
import type { Command } from './command'

const REDRAW_MS = 200

/** One progress line: bytes written of about `total`, elapsed time and rate. */
export function formatBackupProgress (written: number, total: number, elapsedMs: number): string {
  const pct = total > 0 ? Math.min(100, Math.floor(written / total * 100)) : 0
  const secs = elapsedMs / 1000
  const rate = secs > 0 ? `${formatBytes(Math.round(written / secs))}/s` : '-'
  return `backup ${String(pct).padStart(3)}% ${formatBytes(written)} of ~${formatBytes(total)}, ${secs.toFixed(1)} s, ${rate}`
}

/** The closing line (stdout): where the copy went, its size, time and rate. */
export function formatBackupSummary (source: string, file: string, bytes: number, compact: boolean, elapsedMs: number): string {
  const secs = elapsedMs / 1000
  const rate = secs > 0 ? `, ${formatBytes(Math.round(bytes / secs))}/s` : ''
  return `backed up ${source} to ${file}${compact ? ' (compact)' : ''}: ${formatBytes(bytes)} in ${secs.toFixed(2)} s${rate}`
}

export const backup: Command = {
  name: 'backup',
  usage: 'backup <dir> <dest> [--compact]',
  summary: 'hot copy of one commit into <dest>/data.mdb while writers run (creates <dest>)',
  details: [
    '  --compact       omit free pages (smaller copy, no writer lock, more CPU)',
    '  --json          print the result as one JSON object instead of a line',
    '  --no-progress   no progress line (it is shown on stderr only when it is a terminal)',
    '  <dest> must not hold a data.mdb already; the copy is written as',
    '  data.mdb.partial and renamed when complete and synced. Same format and',
    '  store id as the source (see docs/replication.md before restoring one).'
  ].join('\n'),
  options: {
    compact: { type: 'boolean' },
    json: { type: 'boolean' },
    'no-progress': { type: 'boolean' }
  },
  minArgs: 2,
  maxArgs: 2,
  async run ({ args, opts, out }) {
    const [dir, dest] = args
    const compact = opts.compact === true
    const store = openExisting(dir)
    const start = Date.now()
    const total = store.stat().usedBytes
    const partial = nodePath.join(nodePath.resolve(dest), PARTIAL_NAME)
    const tty = opts['no-progress'] !== true && process.stderr.isTTY === true
    let drawn = false
    const draw = (): void => {
      let size = 0
      try { size = fs.statSync(partial).size } catch { return } // not started, or already renamed
      process.stderr.write('\r\x1b[2K' + formatBackupProgress(size, total, Date.now() - start))
      drawn = true
    }
    const timer = tty ? setInterval(draw, REDRAW_MS) : undefined
    try {
      const result = await store.backup(dest, { compact })
      const elapsed = Date.now() - start
      if (opts.json === true) out.write(JSON.stringify({ ...result, ms: elapsed }) + '\n')
      else out.write(formatBackupSummary(dir, result.path, result.bytes, compact, elapsed) + '\n')
      return EXIT_OK
    } catch (err) {
      if (err instanceof BackupTargetError) throw new CliError(`cannot back up into ${dest}: ${err.message}`)
      if (err instanceof LmdbTxnError) throw new CliError(`backup of ${dir} failed: ${err.message}`)
      throw err
    } finally {
      if (timer !== undefined) clearInterval(timer)
      if (drawn) process.stderr.write('\r\x1b[2K')
      store.close()
    }
  }
}
