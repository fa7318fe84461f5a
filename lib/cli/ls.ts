/** `lmdb-txn ls <dir> [path]`: the direct children of a path (or the top level). */
import { LmdbTxnError } from '../index'
import { CliError, EXIT_OK, formatBytes, intOption, normalizePath, openExisting } from './common'
import type { Command } from './command'
import { entryInfo, linkText, typeLabel, type EntryInfo } from './entry'
import { topLevelNames, type View } from './walk'

export const ls: Command = {
  name: 'ls',
  usage: 'ls <dir> [path]',
  summary: 'names under a path (links at the path are followed), or the top level',
  details: [
    '  -l, --long       type, size, link target; a trailing "/" marks names with children',
    '  --after <name>   only names bytewise after <name> (paging)',
    '  --limit <n>      at most <n> names',
    '  --json           a JSON array (of names, or of objects with --long)'
  ].join('\n'),
  options: {
    long: { type: 'boolean', short: 'l' },
    after: { type: 'string' },
    limit: { type: 'string' },
    json: { type: 'boolean' }
  },
  minArgs: 1,
  maxArgs: 2,
  async run ({ args, opts, out }) {
    const limit = intOption(opts.limit, 'limit')
    const after = opts.after as string | undefined
    const store = openExisting(args[0])
    const view = store.snapshot()
    try {
      let base: string | undefined
      let names: string[]
      if (args.length < 2 || normalizePath(args[1]) === '') {
        names = topLevelNames(view)
        if (after !== undefined) names = names.filter((n) => Buffer.compare(Buffer.from(n), Buffer.from(after)) > 0)
        if (limit !== undefined) names = names.slice(0, limit)
      } else {
        const path = args[1]
        try {
          names = view.list(path, { after, limit })
          if (names.length === 0 && after === undefined && limit !== 0 && view.type(path) === undefined) {
            if (view.type(path, { follow: false }) === 'link') {
              throw new CliError(`${path} is a link to ${view.resolve(path)}, which does not exist`)
            }
            throw new CliError(`no such path: ${path}`)
          }
          base = view.resolve(path)
        } catch (err) {
          if (err instanceof LmdbTxnError) throw new CliError(`${path}: ${err.message}`)
          throw err
        }
      }
      const full = (name: string): string => base === undefined ? name : `${base}/${name}`
      if (opts.long !== true) {
        out.write(opts.json === true ? JSON.stringify(names) + '\n' : names.map((n) => n + '\n').join(''))
        return EXIT_OK
      }
      const infos = names.map((name) => ({ name, ...entryInfo(view, full(name)) }))
      if (opts.json === true) {
        out.write(JSON.stringify(infos) + '\n')
        return EXIT_OK
      }
      for (const info of infos) out.write(longLine(view, info) + '\n')
      return EXIT_OK
    } finally {
      view.close()
      store.close()
    }
  }
}


function longLine (view: View, info: EntryInfo & { name: string }): string {
  const size = info.size === undefined ? '-' : formatBytes(info.size)
  let line = `${typeLabel(info.type).padEnd(7)}${size.padStart(10)}  ${info.name}${info.children ? '/' : ''}`
  if (info.type === 'link') line += ` -> ${linkText(view, info)}`
  return line
}
