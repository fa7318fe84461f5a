/** `lmdb-txn stat <dir>`: what the store is and how big, without walking it. */
import * as fs from 'node:fs'
import * as nodePath from 'node:path'
import { EXIT_OK, formatBytes, openExisting, packageVersion } from './common'
import type { Command } from './command'

export const stat: Command = {
  name: 'stat',
  usage: 'stat <dir>',
  summary: 'entries, sizes and LMDB facts of a store (fast: no walk)',
  details: '  --json   print one JSON object',
  options: { json: { type: 'boolean' } },
  minArgs: 1,
  maxArgs: 1,
  async run ({ args, opts, out }) {
    const store = openExisting(args[0])
    try {
      const s = store.stat()
      const fileBytes = fs.statSync(nodePath.join(store.path, 'data.mdb')).size
      const info = {
        path: store.path,
        entries: s.entries,
        fileBytes,
        usedBytes: s.usedBytes,
        mapSize: s.mapSize,
        pageSize: s.pageSize,
        depth: s.depth,
        lastTxnId: s.lastTxnId,
        readers: s.readers,
        maxReaders: s.maxReaders,
        lmdbVersion: s.lmdbVersion,
        storeId: s.storeId ?? null,
        changeLog: s.changeLog ?? null,
        replica: s.replica ?? null,
        tool: `lmdb-txn ${packageVersion()}`
      }
      if (opts.json === true) {
        out.write(JSON.stringify(info, null, 2) + '\n')
        return EXIT_OK
      }
      const rows: Array<[string, string]> = [
        ['store', info.path],
        ['entries', info.entries.toLocaleString('en-US')],
        ['file size', formatBytes(info.fileBytes)],
        ['used', `${formatBytes(info.usedBytes)} (${Math.round(info.usedBytes / info.pageSize).toLocaleString('en-US')} pages of ${info.pageSize} B)`],
        ['map size', formatBytes(info.mapSize)],
        ['B-tree depth', String(info.depth)],
        ['last txn id', String(info.lastTxnId)],
        ['readers', `${info.readers} of ${info.maxReaders} slots in use (this process included)`],
        ['LMDB', info.lmdbVersion],
        ['store id', info.storeId ?? '(none yet: open it writable once)'],
        ['change log', info.changeLog === null ? 'off' : info.changeLog.count === 0 ? `on, empty (next seq ${info.changeLog.last + 1})` : `on, seq ${info.changeLog.first}..${info.changeLog.last} (${info.changeLog.count.toLocaleString('en-US')} records)`],
        ['replica of', info.replica === null ? '-' : `${info.replica.primary}, applied seq ${info.replica.appliedSeq}`],
        ['tool', info.tool]
      ]
      for (const [k, v] of rows) out.write(`${k.padEnd(13)}${v}\n`)
      return EXIT_OK
    } finally {
      store.close()
    }
  }
}
