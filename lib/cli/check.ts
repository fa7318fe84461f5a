/**
 * `lmdb-txn check <dir>`: walks every literal key of one snapshot and
 * verifies what the model requires (SPEC §2). Errors: a key that is not a
 * normalised, valid path or cannot be read back by its name, a value without
 * a valid type tag, a link whose stored target is not a valid path, a link
 * loop, a store whose `meta` format version this tool does not read (the
 * open fails). Warnings: dangling links (allowed by the model).
 */
import { FormatError, LinkLoopError, LmdbTxnError } from '../index'
import { addon, type RawStat } from '../native'
import { CliError, EXIT_OK, EXIT_PROBLEM, existingStoreDir, UsageError, formatBytes, formatCount, keyProblem, openExisting } from './common'
import { progressOption, type Command } from './command'
import { isDangling } from './entry'
import { Progress } from './progress'
import { iterKeys } from './walk'

interface Problem { key: string, message: string }

export const check: Command = {
  name: 'check',
  usage: 'check <dir> [--deep]',
  summary: 'verify every entry: keys, type tags, links, format version (exit 1 on a problem)',
  details: [
    '  Errors: a key that is not a valid normalised path or cannot be read back,',
    '  a value without a valid type tag, an invalid link target, a link loop, an',
    '  unknown store format version, a change-log record that does not decode or',
    '  a gap in its seqs. Warnings: dangling links (the model allows',
    '  them). Exit 0 when there is no error, 1 otherwise.',
    '  --deep          first, LMDB\'s own view (what mdb_stat -efar reports): every',
    '                  tree of every database and the free list are read, and',
    '                  the page accounting must balance: the pages in use equal',
    '                  the tree pages + listed free pages + the 2 meta pages (a',
    '                  torn or leaked commit shows as a difference); the data',
    '                  database must hold as many records as the walk finds',
    '  --lmdb-only     with --deep: only LMDB\'s view, without opening the store as an',
    '                  lmdb-txn store (any LMDB environment; JSON has no model counts)',
    '  --strict        warnings fail the check too',
    '  --json          print one JSON object',
    '  --no-progress   no progress bar (it is shown only when stdout is a terminal)'
  ].join('\n'),
  options: { strict: { type: 'boolean' }, json: { type: 'boolean' }, deep: { type: 'boolean' }, 'lmdb-only': { type: 'boolean' }, ...progressOption },
  minArgs: 1,
  maxArgs: 1,
  async run ({ args, opts, out }) {
    const started = Date.now()
    // before open(): the raw view uses its own environment, closed again here
    const deep = opts.deep === true ? deepCheck(existingStoreDir(args[0])) : undefined
    if (opts['lmdb-only'] === true) {
      if (deep === undefined) throw new UsageError('check: --lmdb-only goes with --deep')
      const ok = deep.problems.length === 0
      if (opts.json === true) out.write(JSON.stringify({ ok, errors: deep.problems, lmdb: deep.summary }) + '\n')
      else {
        for (const p of deep.problems) out.write(`error   ${p}\n`)
        if (deep.summary !== undefined) out.write(pagesLine(deep.summary))
        out.write(`${ok ? 'OK' : 'FAILED'}: ${formatCount(deep.problems.length, 'error')}\n`)
      }
      return ok ? EXIT_OK : EXIT_PROBLEM
    }
    const store = openExisting(args[0])
    const view = store.snapshot()
    const errors: Problem[] = []
    const warnings: Problem[] = []
    const counts = { entries: 0, simple: 0, group: 0, link: 0, dangling: 0, valueBytes: 0, changes: 0 }
    const progress = new Progress('check', store.stat().entries, { enabled: opts['no-progress'] !== true && opts.json !== true })
    const report = (list: Problem[], severity: string, key: string, message: string): void => {
      list.push({ key, message })
      if (opts.json === true) return
      progress.clear()
      out.write(`${severity.padEnd(8)}${JSON.stringify(key)}: ${message}\n`)
    }
    const error = (key: string, message: string): void => report(errors, 'error', key, message)
    const warning = (key: string, message: string): void => report(warnings, 'warning', key, message)
    for (const p of deep?.problems ?? []) error('', p)
    try {
      try {
        for (const key of iterKeys(view)) {
          counts.entries++
          progress.tick()
          if (out.pending > 1 << 16) { progress.clear(); await out.flush() }
          checkKey(key)
        }
      } catch (err) {
        // The walk itself could not go on (e.g. a key that is not UTF-8).
        if (!(err instanceof CliError) && !(err instanceof LmdbTxnError)) throw err
        error('', `walk stopped: ${err.message}`)
      }
      checkChangeLog()
    } finally {
      progress.clear()
      view.close()
      store.close()
    }

    // The change log: every record decodes, seqs run without a gap from
    // first to last, and the count agrees with stat().
    function checkChangeLog (): void {
      const log = store.stat().changeLog
      if (log === undefined) return
      let expect = log.first
      let n = 0
      try {
        for (;;) {
          const batch = store.changes({ after: expect - 1, limit: 1000 })
          if (batch.length === 0) break
          for (const c of batch) {
            if (c.seq !== expect) error('', `change log: seq ${expect} is missing (next is ${c.seq})`)
            expect = c.seq + 1
            n++
          }
        }
      } catch (err) {
        if (!(err instanceof LmdbTxnError)) throw err
        error('', `change log: record after seq ${expect - 1}: ${err.message}`)
        return
      }
      if (n !== log.count) error('', `change log: ${n} records read, stat says ${log.count}`)
      if (n > 0 && expect - 1 !== log.last) error('', `change log: last record is ${expect - 1}, stat says ${log.last}`)
      counts.changes = n
    }

    function checkKey (key: string): void {
      const bad = keyProblem(key)
      if (bad !== undefined) { error(key, `key ${bad}`); return }
      let type
      try {
        type = view.type(key, { follow: false })
      } catch (err) {
        if (err instanceof FormatError) { error(key, `bad value: ${err.message}`); return }
        if (err instanceof LmdbTxnError) { error(key, err.message); return }
        throw err
      }
      if (type === undefined) {
        error(key, 'listed but not found by its name (the stored key is probably not valid UTF-8)')
        return
      }
      counts[type]++
      if (type === 'simple') {
        counts.valueBytes += view.read(key)?.length ?? 0
        return
      }
      if (type === 'group') return
      let target: string | undefined
      try {
        target = view.readLink(key)
        if (target !== undefined) {
          const p = keyProblem(target)
          if (p !== undefined) error(key, `link target ${JSON.stringify(target)} ${p}`)
        }
        if (isDangling(view, key)) {
          counts.dangling++
          warning(key, `dangling link to ${JSON.stringify(target ?? view.resolve(key))}`)
        }
      } catch (err) {
        if (err instanceof LinkLoopError) { error(key, `link loop: ${err.message}`); return }
        if (err instanceof LmdbTxnError) { error(key, `following the link: ${err.message}`); return }
        throw err
      }
    }

    const dataRecords = deep?.stat?.dbs.find((d) => d.name === 'data')?.entries
    if (dataRecords !== undefined && dataRecords !== counts.entries) {
      error('', `LMDB counts ${dataRecords} records in the data database, the walk found ${counts.entries}`)
    }
    const failed = errors.length > 0 || (opts.strict === true && warnings.length > 0)
    const seconds = (Date.now() - started) / 1000
    if (opts.json === true) {
      out.write(JSON.stringify({ ok: !failed, ...counts, errors, warnings, seconds, ...(deep !== undefined ? { lmdb: deep.summary } : {}) }) + '\n')
    } else {
      out.write(`checked ${formatCount(counts.entries, 'entry', 'entries')} in ${seconds.toFixed(2)}s: ` +
        `${formatCount(counts.simple, 'value')} (${formatBytes(counts.valueBytes)}), ${formatCount(counts.group, 'group')}, ` +
        `${formatCount(counts.link, 'link')}${counts.dangling > 0 ? ` (${counts.dangling} dangling)` : ''}\n`)
      out.write(`format version: supported\n`)
      if (deep?.summary !== undefined) out.write(pagesLine(deep.summary))
      if (counts.changes > 0) out.write(`change log: ${formatCount(counts.changes, 'record')}, no gap\n`)
      out.write(`${failed ? 'FAILED' : 'OK'}: ${formatCount(errors.length, 'error')}, ${formatCount(warnings.length, 'warning')}\n`)
    }
    return failed ? EXIT_PROBLEM : EXIT_OK
  }
}

function pagesLine (p: DeepSummary): string {
  return `pages: ${p.pagesUsed} in use, ${p.treePages} in trees + ${p.freePages} free + 2 meta` +
    `${p.balanced ? '' : ` (MISMATCH: ${p.accounted} accounted for)`}; ${p.pageSize}-byte pages, last txn ${p.lastTxnId}\n`
}

export interface DeepSummary {
  pageSize: number
  pagesUsed: number
  treePages: number
  freePages: number
  accounted: number
  balanced: boolean
  lastTxnId: number
  readerSlotsInUse: number
  readersHoldingSnapshot: number
  databases: Array<{ name: string | null, entries: number, depth: number, branchPages: number, leafPages: number, overflowPages: number }>
}

/**
 * LMDB's view of the file (mdb_stat -efar): reading every database's record
 * and the whole free list makes LMDB touch every tree page's accounting; the
 * counts must add up to the pages in use.
 */
export function deepCheck (abs: string): { stat?: RawStat, summary?: DeepSummary, problems: string[] } {
  let stat: RawStat
  try {
    stat = addon.raw.stat(abs)
    addon.raw.dump(abs, []) // reads every record of every named database: a damaged page fails here
  } catch (err) {
    return { problems: [`LMDB cannot read the store: ${(err as Error).message}`] }
  }
  const treePages = stat.dbs.reduce((n, d) => n + d.branchPages + d.leafPages + d.overflowPages, 0)
  const accounted = treePages + stat.freePages + 2
  const summary: DeepSummary = {
    pageSize: stat.pageSize,
    pagesUsed: stat.pagesUsed,
    treePages,
    freePages: stat.freePages,
    accounted,
    balanced: accounted === stat.pagesUsed,
    lastTxnId: stat.lastTxnId,
    readerSlotsInUse: stat.readerSlotsInUse,
    readersHoldingSnapshot: stat.readersHoldingSnapshot,
    databases: stat.dbs.map(({ name, entries, depth, branchPages, leafPages, overflowPages }) => ({ name, entries, depth, branchPages, leafPages, overflowPages }))
  }
  const problems = summary.balanced ? [] : [`page accounting: ${stat.pagesUsed} pages in use, ${accounted} accounted for (${treePages} in trees, ${stat.freePages} free, 2 meta)`]
  return { stat, summary, problems }
}
