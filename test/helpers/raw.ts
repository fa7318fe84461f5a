/**
 * LMDB-level access for tests through the project's own CLI, in a child
 * process (as LMDB's mdb_load / mdb_dump / mdb_stat were used): raw records
 * below the lmdb-txn model, and LMDB's page accounting. A child because the
 * raw commands open their own LMDB environment, which must not coexist with
 * an open() of the same directory in one process.
 */
import { spawnSync } from 'node:child_process'
import * as path from 'node:path'
import { ROOT } from './child'

const BIN = path.join(ROOT, 'bin', 'lmdb-txn.js')

function run (args: string[], input = ''): { code: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 30 })
  if (r.error) throw r.error
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** mdb_dump text for raw records of one database (null: the main database). */
export function mdbText (db: string | null, pairs: Array<[Buffer | string, Buffer | string]>): string {
  const hex = (b: Buffer | string): string => ' ' + Buffer.from(b).toString('hex') + '\n'
  return `VERSION=3\nformat=bytevalue\n${db === null ? '' : `database=${db}\n`}type=btree\nHEADER=END\n` +
    pairs.map(([k, v]) => hex(k) + hex(v)).join('') + 'DATA=END\n'
}

/** `lmdb-txn load --format mdb --merge`: writes the records as they are, in one transaction. */
export function rawLoad (dir: string, db: string | null, pairs: Array<[Buffer | string, Buffer | string]>): void {
  const r = run(['load', '--format', 'mdb', '--merge', '--no-progress', dir], mdbText(db, pairs))
  if (r.code !== 0) throw new Error(`lmdb-txn load --format mdb failed (${r.code}): ${r.stderr}`)
}

/** `lmdb-txn dump --format mdb -s <db>`: the text, and its records decoded. */
export function rawDump (dir: string, db: string): { text: string, pairs: Array<[Buffer, Buffer]> } {
  const r = run(['dump', '--format', 'mdb', '-s', db, dir])
  if (r.code !== 0) throw new Error(`lmdb-txn dump --format mdb -s ${db} failed (${r.code}): ${r.stderr}`)
  const lines = r.stdout.split('\n')
  const start = lines.indexOf('HEADER=END')
  const end = lines.indexOf('DATA=END')
  if (start < 0 || end < start) throw new Error(`not an mdb dump:\n${r.stdout.slice(0, 200)}`)
  const pairs: Array<[Buffer, Buffer]> = []
  for (let i = start + 1; i < end; i += 2) pairs.push([Buffer.from(lines[i].slice(1), 'hex'), Buffer.from(lines[i + 1].slice(1), 'hex')])
  return { text: r.stdout, pairs }
}

/** `lmdb-txn load --format mdb --merge` of a whole text (e.g. an edited dump). */
export function rawLoadText (dir: string, text: string): void {
  const r = run(['load', '--format', 'mdb', '--merge', '--no-progress', dir], text)
  if (r.code !== 0) throw new Error(`lmdb-txn load --format mdb failed (${r.code}): ${r.stderr}`)
}

/** `lmdb-txn check --deep --json`: the model walk plus LMDB's page accounting. */
export function deepCheck (dir: string): { code: number | null, report: any, stderr: string } {
  const r = run(['check', '--deep', '--json', '--no-progress', dir])
  let report: any
  try { report = JSON.parse(r.stdout) } catch { report = undefined }
  return { code: r.code, report, stderr: r.stderr }
}
