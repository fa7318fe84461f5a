/** `lmdb-txn serve <dir> --port P`: an HTTP replica endpoint (SPEC §11.3, docs/replication.md). */
import * as fs from 'node:fs'
import { open } from '../index'
import { serveReplica } from '../sync/http-server'
import { EXIT_OK, intOption, openError, UsageError } from './common'
import type { Command } from './command'


export const serve: Command = {
  name: 'serve',
  usage: 'serve <dir> --port P [--host H] [--token T]',
  summary: 'run an HTTP replica endpoint: apply records a primary sends (creates <dir> if needed)',
  details: [
    '  --port P                 TCP port (0: any free one; the URL is printed)',
    '  --host H                 address to bind (default 127.0.0.1); anything but',
    '                           loopback requires a token',
    '  --token T                bearer token primaries must send (or LMDB_TXN_TOKEN)',
    '  --max-message-bytes N    largest message accepted (default 16 MiB)',
    '  --max-message-ops N      most ops per message (default 100000)',
    '  --no-batches             ask primaries for one message per op (atomicity lost)',
    '  Prints one line {"url":…,"storeId":…,"replica":…} when listening; ends on SIGINT/SIGTERM.'
  ].join('\n'),
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    token: { type: 'string' },
    'max-message-bytes': { type: 'string' },
    'max-message-ops': { type: 'string' },
    'no-batches': { type: 'boolean' }
  },
  minArgs: 1,
  maxArgs: 1,
  async run ({ args, opts, out }) {
    const port = intOption(opts.port, 'port', 0, 65535)
    if (port === undefined) throw new UsageError('serve needs --port P')
    const maxMessageBytes = intOption(opts['max-message-bytes'], 'max-message-bytes', 1024, 2 ** 31)
    const maxMessageOps = intOption(opts['max-message-ops'], 'max-message-ops', 1, 2 ** 31)
    const token = (opts.token as string | undefined) ?? process.env.LMDB_TXN_TOKEN
    fs.mkdirSync(args[0], { recursive: true })
    let store
    try {
      store = open(args[0])
    } catch (err) {
      throw openError(args[0], err)
    }
    try {
      const server = await serveReplica(store, {
        port,
        host: opts.host as string | undefined,
        token,
        maxMessageBytes,
        maxMessageOps,
        batches: opts['no-batches'] !== true
      }).catch((err) => { throw new UsageError((err as Error).message) })
      const s = store.stat()
      out.write(JSON.stringify({ url: server.url, storeId: s.storeId, replica: s.replica ?? null }) + '\n')
      await out.flush()
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve)
        process.once('SIGTERM', resolve)
      })
      await server.close()
      return EXIT_OK
    } finally {
      store.close()
    }
  }
}
