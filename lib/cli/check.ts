/**
 * `lmdb-txn check <dir>`: walks every literal key of one snapshot and
 * verifies what the model requires (SPEC §2). Errors: a key that is not a
 * normalised, valid path or cannot be read back by its name, a value without
 * a valid type tag, a link whose stored target is not a valid path, a link
 * loop, a store whose `meta` format version this tool does not read (the
 * open fails). Warnings: dangling links (allowed by the model).
 */
import { FormatError, LinkLoopError, LmdbTxnError } from '../index'
import { CliError, EXIT_OK, EXIT_PROBLEM, formatBytes, formatCount, keyProblem, openExisting } from './common'
import { progressOption, type Command } from './command'
import { isDangling } from './entry'
import { Progress } from './progress'
import { iterKeys } from './walk'

interface Problem { key: string, message: string }

export const check: Command = {
  name: 'check',
  usage: 'check <dir>',
  summary: 'verify every entry: keys, type tags, links, format version (exit 1 on a problem)',
  details: [
    '  Errors: a key that is not a valid normalised path or cannot be read back,',
    '  a value without a valid type tag, an invalid link target, a link loop, an',
    '  unknown store format version, a change-log record that does not decode or',
    '  a gap in its seqs. Warnings: dangling links (the model allows',
    '  them). Exit 0 when there is no error, 1 otherwise.',
    '  --strict        warnings fail the check too',
    '  --json          print one JSON object',
    '  --no-progress   no progress bar (it is shown only when stdout is a terminal)'
  ].join('\n'),
  options: { strict: { type: 'boolean' }, json: { type: 'boolean' }, ...progressOption },
  minArgs: 1,
  maxArgs: 1,
  async run ({ args, opts, out }) {
    const started = Date.now()
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

    const failed = errors.length > 0 || (opts.strict === true && warnings.length > 0)
    const seconds = (Date.now() - started) / 1000
    if (opts.json === true) {
      out.write(JSON.stringify({ ok: !failed, ...counts, errors, warnings, seconds }) + '\n')
    } else {
      out.write(`checked ${formatCount(counts.entries, 'entry', 'entries')} in ${seconds.toFixed(2)}s: ` +
        `${formatCount(counts.simple, 'value')} (${formatBytes(counts.valueBytes)}), ${formatCount(counts.group, 'group')}, ` +
        `${formatCount(counts.link, 'link')}${counts.dangling > 0 ? ` (${counts.dangling} dangling)` : ''}\n`)
      out.write(`format version: supported\n`)
      if (counts.changes > 0) out.write(`change log: ${formatCount(counts.changes, 'record')}, no gap\n`)
      out.write(`${failed ? 'FAILED' : 'OK'}: ${formatCount(errors.length, 'error')}, ${formatCount(warnings.length, 'warning')}\n`)
    }
    return failed ? EXIT_PROBLEM : EXIT_OK
  }
}
