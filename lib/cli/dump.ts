/** `lmdb-txn dump <dir>`: every entry of one snapshot as text (see dump-format.ts). */
import * as fs from 'node:fs'
import { LmdbTxnError } from '../index'
import { CliError, EXIT_OK, keyProblem, openExisting, Output, packageVersion } from './common'
import { progressOption, type Command } from './command'
import { changeLine, entryLine, headerLine, trailerLine } from './dump-format'
import { kSnapshotNative } from '../internal'
import { Progress } from './progress'
import { iterKeys } from './walk'

export const dump: Command = {
  name: 'dump',
  usage: 'dump <dir> [-o <file>] [--changes]',
  summary: 'write every entry as text lines (backup, move, diff); format: docs/dump-format.md',
  details: [
    '  -o, --output <file>   write to <file> (via a temporary file, renamed when',
    '                        complete) instead of stdout',
    '  --changes             also write the change log (its records, base64)',
    '  --no-progress         no progress bar (shown only with -o when stdout is a terminal)',
    '  The dump is one consistent snapshot; writers are not blocked meanwhile.'
  ].join('\n'),
  options: { output: { type: 'string', short: 'o' }, changes: { type: 'boolean' }, ...progressOption },
  minArgs: 1,
  maxArgs: 1,
  async run ({ args, opts, out }) {
    const store = openExisting(args[0])
    const view = store.snapshot()
    const file = opts.output as string | undefined
    const temp = file === undefined ? undefined : `${file}.partial-${process.pid}`
    let fd: number | undefined
    const progress = new Progress('dump', store.stat().entries, { enabled: file !== undefined && opts['no-progress'] !== true })
    try {
      if (temp !== undefined) {
        try {
          fd = fs.openSync(temp, 'w', 0o644)
        } catch (err) {
          throw new CliError(`cannot write ${file}: ${(err as Error).message}`)
        }
      }
      const sink = fd === undefined ? out : new Output(fd)
      sink.write(headerLine(`lmdb-txn ${packageVersion()}`))
      let n = 0
      for (const key of iterKeys(view)) {
        const bad = keyProblem(key)
        if (bad !== undefined) throw new CliError(`cannot dump key ${JSON.stringify(key)}: the key ${bad} (run: lmdb-txn check ${args[0]})`)
        try {
          const type = view.type(key, { follow: false })
          if (type === 'simple') sink.write(entryLine({ key, type, value: view.read(key)! }))
          else if (type === 'group') sink.write(entryLine({ key, type }))
          else if (type === 'link') {
            sink.write(entryLine({ key, type, target: view.readLink(key)! }))
          } else {
            throw new CliError(`cannot read key ${JSON.stringify(key)} back by its name (not valid UTF-8?); run: lmdb-txn check ${args[0]}`)
          }
        } catch (err) {
          if (err instanceof LmdbTxnError) throw new CliError(`cannot dump ${JSON.stringify(key)}: ${err.message} (run: lmdb-txn check ${args[0]})`)
          throw err
        }
        n++
        progress.tick()
        if (sink.pending > 1 << 16) await sink.flush()
        if (sink.closed) return EXIT_OK
      }
      let changes: number | undefined
      if (opts.changes === true) {
        // From the same snapshot as the entries: the log matches them exactly.
        changes = 0
        let after = 0
        for (;;) {
          const raw = view[kSnapshotNative].changes(after, 1000)
          if (raw.length === 0) break
          for (let i = 0; i < raw.length; i += 2) { sink.write(changeLine(raw[i] as number, raw[i + 1] as Buffer)); changes++ }
          after = raw[raw.length - 2] as number
          if (sink.pending > 1 << 16) await sink.flush()
        }
      }
      sink.write(trailerLine(n, changes))
      await sink.flush()
      if (fd !== undefined) {
        fs.fsyncSync(fd)
        fs.closeSync(fd)
        fd = undefined
        fs.renameSync(temp!, file!)
      }
      return EXIT_OK
    } finally {
      progress.clear()
      if (fd !== undefined) {
        fs.closeSync(fd)
        fs.rmSync(temp!, { force: true })
      }
      view.close()
      store.close()
    }
  }
}
