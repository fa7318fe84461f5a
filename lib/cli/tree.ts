/** `lmdb-txn tree <dir> [path]`: the hierarchy under a path, links shown, not entered. */
import { LmdbTxnError } from '../index'
import { CliError, EXIT_OK, formatBytes, formatCount, normalizePath, intOption, openExisting } from './common'
import type { Command } from './command'
import { entryInfo, linkText } from './entry'
import { topLevelNames, type View } from './walk'

const PAGE = 1024

export const tree: Command = {
  name: 'tree',
  usage: 'tree <dir> [path]',
  summary: 'the hierarchy under a path (or the whole store)',
  details: [
    '  Groups end in "/", values show their size, links show "-> target" and are',
    '  not entered (a link at <path> itself is followed). A name without an entry',
    '  of its own (an implicit parent) is shown plain, with its children.',
    '  -L, --depth <n>   descend at most <n> levels',
    '  --ascii           draw with ASCII instead of box-drawing characters'
  ].join('\n'),
  options: {
    depth: { type: 'string', short: 'L' },
    ascii: { type: 'boolean' }
  },
  minArgs: 1,
  maxArgs: 2,
  async run ({ args, opts, out }) {
    const maxDepth = intOption(opts.depth, 'depth', 1) ?? Infinity
    const glyphs = opts.ascii === true
      ? { tee: '|-- ', last: '`-- ', pipe: '|   ', gap: '    ' }
      : { tee: '├── ', last: '└── ', pipe: '│   ', gap: '    ' }
    const store = openExisting(args[0])
    const view = store.snapshot()
    const counts = { group: 0, simple: 0, link: 0, none: 0 }
    try {
      let base: string | undefined
      if (args.length === 2 && normalizePath(args[1]) !== '') {
        const path = args[1]
        try {
          base = view.resolve(path)
          if (view.type(path) === undefined && view.list(path, { limit: 1 }).length === 0) {
            throw new CliError(`no such path: ${path}${base !== normalizePath(path) ? ` (resolves to ${base})` : ''}`)
          }
        } catch (err) {
          if (err instanceof LmdbTxnError) throw new CliError(`${path}: ${err.message}`)
          throw err
        }
        const type = view.type(base)
        const label = normalizePath(path) === base ? base : `${normalizePath(path)} -> ${base}`
        out.write(label + (type === 'group' ? '/' : type === 'simple' ? `  (${formatBytes(view.read(base)?.length ?? 0)})` : '') + '\n')
      } else {
        out.write(args[0] + '\n')
      }

      const walk = async (parent: string | undefined, indent: string, depth: number): Promise<void> => {
        const it = parent === undefined ? topLevelNames(view)[Symbol.iterator]() : children(view, parent)
        let cur = it.next()
        while (!cur.done) {
          const name = cur.value
          const next = it.next()
          const isLast = next.done === true
          const full = parent === undefined ? name : `${parent}/${name}`
          const type = view.type(full, { follow: false })
          let label = name
          if (type === 'group') { label += '/'; counts.group++ }
          else if (type === 'simple') { label += `  (${formatBytes(view.read(full)?.length ?? 0)})`; counts.simple++ }
          else if (type === 'link') { label += ` -> ${linkText(view, entryInfo(view, full), opts.ascii === true)}`; counts.link++ }
          else counts.none++
          out.write(indent + (isLast ? glyphs.last : glyphs.tee) + label + '\n')
          if (out.pending > 1 << 16) await out.flush()
          if (type !== 'link' && depth < maxDepth) {
            await walk(full, indent + (isLast ? glyphs.gap : glyphs.pipe), depth + 1)
          }
          cur = next
        }
      }
      await walk(base, '', 1)
      const parts = [formatCount(counts.group, 'group'), formatCount(counts.simple, 'value'), formatCount(counts.link, 'link')]
      if (counts.none > 0) parts.push(formatCount(counts.none, 'path') + ' without an entry')
      out.write(`\n${parts.join(', ')}\n`)
      return EXIT_OK
    } finally {
      view.close()
      store.close()
    }
  }
}

/** The children of a literal path, paged. */
function * children (view: View, path: string): Generator<string> {
  let after: string | undefined
  for (;;) {
    const page = view.list(path, { after, limit: PAGE })
    yield * page
    if (page.length < PAGE) return
    after = page[page.length - 1]
  }
}
