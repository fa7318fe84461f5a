/**
 * `lmdb-txn dump --format mdb`: the store's LMDB databases in the text format
 * of LMDB's own mdb_dump (mdb-text.ts), so mdb_load and other LMDB bindings
 * read them. Below the lmdb-txn model: raw keys and tagged values, from one
 * read transaction of its own environment (the store is not opened through
 * open() in this process meanwhile).
 */
import { addon } from '../native'
import type { Output } from './common'
import { CliError, existingStoreDir } from './common'
import { formatDatabase } from './mdb-text'

export interface MdbDumpOptions {
  /** named databases; [] = all of them (mdb_dump -a); undefined = the main database */
  names: string[] | undefined
  print: boolean
}

export async function dumpMdb (dir: string, options: MdbDumpOptions, sink: Output): Promise<number> {
  const abs = existingStoreDir(dir)
  let stat, dbs
  try {
    stat = addon.raw.stat(abs)
    dbs = addon.raw.dump(abs, options.names ?? null)
  } catch (err) {
    throw new CliError(`cannot dump ${dir}: ${(err as Error).message}`)
  }
  if (options.names !== undefined && options.names.length === 0 && dbs.length === 0) throw new CliError(`${dir} has no named databases`)
  const header = { mapSize: stat.mapSize, pageSize: stat.pageSize, maxReaders: stat.maxReaders }
  let n = 0
  for (const db of dbs) {
    for (const line of formatDatabase(db, header, options.print)) {
      sink.write(line)
      if (sink.pending > 1 << 16) await sink.flush()
      if (sink.closed) return n
    }
    n += db.pairs.length / 2
  }
  return n
}
