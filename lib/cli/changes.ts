/** `lmdb-txn changes <dir>`: the change log as JSON lines (SPEC §11.1). */
import type { Change } from '../changes'
import { EXIT_OK, intOption, openExisting, UsageError } from './common'
import type { Command } from './command'

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** One record as a JSON line; a value is `utf8` when it is valid UTF-8, else `base64`. */
export function changeLine (c: Change): string {
  const ops = c.ops.map((op) => {
    if (op.op !== 'write') return op
    let text: string | undefined
    try { text = utf8.decode(op.value) } catch { text = undefined }
    return text !== undefined
      ? { op: 'write', path: op.path, utf8: text }
      : { op: 'write', path: op.path, base64: Buffer.from(op.value).toString('base64') }
  })
  return JSON.stringify({ seq: c.seq, time: new Date(c.time).toISOString(), ops }) + '\n'
}


export const changes: Command = {
  name: 'changes',
  usage: 'changes <dir> [--after N] [--limit N] [--follow]',
  summary: 'print the change log, one JSON record per line (--follow: keep printing new ones)',
  details: [
    '  --after N    only records with seq > N (default 0)',
    '  --limit N    at most N records (not with --follow)',
    '  --follow     after the existing records, print new ones as they commit',
    '               (any process); ends on SIGINT/SIGTERM',
    '  Each line: {"seq":N,"time":"<ISO>","ops":[{"op":"write","path":…,"utf8"|"base64":…},',
    '  {"op":"group","path":…}, {"op":"link","path":…,"target":…}, {"op":"remove","path":…,"recursive":b}]}'
  ].join('\n'),
  options: { after: { type: 'string' }, limit: { type: 'string' }, follow: { type: 'boolean' } },
  minArgs: 1,
  maxArgs: 1,
  async run ({ args, opts, out }) {
    const after = intOption(opts.after, 'after') ?? 0
    const limit = intOption(opts.limit, 'limit')
    if (limit !== undefined && opts.follow === true) throw new UsageError('--limit and --follow do not go together')
    const store = openExisting(args[0])
    try {
      let cursor = after
      let left = limit ?? Infinity
      while (left > 0) {
        const batch = store.changes({ after: cursor, limit: Math.min(1000, left) })
        if (batch.length === 0) break
        for (const c of batch) out.write(changeLine(c))
        cursor = batch[batch.length - 1].seq
        left -= batch.length
        await out.flush()
        if (out.closed) return EXIT_OK
      }
      if (opts.follow !== true) return EXIT_OK
      const stop = new AbortController()
      const end = (): void => stop.abort()
      process.once('SIGINT', end)
      process.once('SIGTERM', end)
      try {
        for await (const c of store.watch({ after: cursor, signal: stop.signal })) {
          out.write(changeLine(c))
          await out.flush()
          if (out.closed) break
        }
      } finally {
        process.off('SIGINT', end)
        process.off('SIGTERM', end)
      }
      return EXIT_OK
    } finally {
      store.close()
    }
  }
}
