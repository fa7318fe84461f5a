/** `lmdb-txn get <dir> <path>`: one value, links followed. */
import { LmdbTxnError } from '../index'
import { CliError, EXIT_OK, openExisting, UsageError } from './common'
import type { Command } from './command'

export const get: Command = {
  name: 'get',
  usage: 'get <dir> <path>',
  summary: 'print a value (raw bytes by default; links are followed)',
  details: [
    '  --string   decode as UTF-8 and end with a newline',
    '  --hex      a hex dump (offset, bytes, printable characters)',
    '  --json     {"path","resolved","type","size","utf8"|"base64"}',
    '  Exit 1 when the path holds no value: missing, a group, or a dangling link.'
  ].join('\n'),
  options: {
    string: { type: 'boolean' },
    hex: { type: 'boolean' },
    json: { type: 'boolean' }
  },
  minArgs: 2,
  maxArgs: 2,
  async run ({ args, opts, out }) {
    const modes = ['string', 'hex', 'json'].filter((m) => opts[m] === true)
    if (modes.length > 1) throw new UsageError(`choose one of --${modes.join(', --')}`)
    const path = args[1]
    const store = openExisting(args[0])
    const view = store.snapshot()
    try {
      let value: Uint8Array | undefined
      let resolved: string
      try {
        value = view.read(path)
        resolved = view.resolve(path)
        if (value === undefined) {
          const type = view.type(path)
          if (type === 'group') throw new CliError(`${path} is a group, not a value (try: lmdb-txn ls ${args[0]} ${path})`)
          if (view.type(path, { follow: false }) === 'link') throw new CliError(`${path} is a link to ${resolved}, which holds no value`)
          if (view.list(path, { limit: 1 }).length > 0) throw new CliError(`${path} has no value, only children (try: lmdb-txn ls ${args[0]} ${path})`)
          throw new CliError(`no such path: ${path}`)
        }
      } catch (err) {
        if (err instanceof LmdbTxnError) throw new CliError(`${path}: ${err.message}`)
        throw err
      }
      const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
      if (opts.string === true) {
        out.write(bytes.toString('utf8') + '\n')
      } else if (opts.hex === true) {
        out.write(hexDump(bytes))
      } else if (opts.json === true) {
        const text = decodeUtf8(bytes)
        out.write(JSON.stringify({
          path,
          resolved,
          type: 'simple',
          size: bytes.length,
          ...(text !== undefined ? { utf8: text } : { base64: bytes.toString('base64') })
        }) + '\n')
      } else {
        out.write(bytes)
      }
      return EXIT_OK
    } finally {
      view.close()
      store.close()
    }
  }
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function decodeUtf8 (bytes: Uint8Array): string | undefined {
  try { return fatalUtf8.decode(bytes) } catch { return undefined }
}

/** `00000000  68 65 6c 6c 6f 20 77 6f  72 6c 64 0a              |hello world.|` */
export function hexDump (bytes: Uint8Array): string {
  let text = ''
  for (let off = 0; off < bytes.length; off += 16) {
    const row = bytes.subarray(off, off + 16)
    let hex = ''
    let ascii = ''
    for (let i = 0; i < 16; i++) {
      if (i === 8) hex += ' '
      hex += i < row.length ? row[i].toString(16).padStart(2, '0') + ' ' : '   '
      if (i < row.length) ascii += row[i] >= 0x20 && row[i] < 0x7f ? String.fromCharCode(row[i]) : '.'
    }
    text += `${off.toString(16).padStart(8, '0')}  ${hex} |${ascii}|\n`
  }
  return text
}
