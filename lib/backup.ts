/**
 * store.backup(dest): checks the destination on the JS thread, then the
 * native side (native/backup.cc) copies the environment on the libuv pool
 * into <dest>/data.mdb.partial, fsyncs it and renames it to <dest>/data.mdb.
 */
import * as fs from 'node:fs'
import * as nodePath from 'node:path'
import type { NativeStore } from './native'
import { booleanOption, describe, methodOptions } from './options'
import { BackupTargetError, StoreClosedError } from './errors'

export interface BackupOptions {
  /** Omit free pages and renumber the rest (MDB_CP_COMPACT): smaller, takes no writer lock, slower. */
  compact?: boolean
}

export interface BackupResult {
  /** Absolute path of the copy's data file (`<dest>/data.mdb`). */
  path: string
  /** Its size in bytes. */
  bytes: number
  compact: boolean
}

/** Name of the file being written until the copy is complete (native/backup.h). */
export const PARTIAL_NAME = 'data.mdb.partial'

function targetError (dest: string, err: NodeJS.ErrnoException, what: string): BackupTargetError {
  if (err.code === 'EEXIST' || err.code === 'ENOTDIR') return new BackupTargetError(`${dest} is not a directory`, 'not-a-directory', err.code)
  return new BackupTargetError(`cannot ${what} ${dest}: ${err.message}`, 'not-writable', err.code)
}

/**
 * mkdir -p. Not fs.mkdirSync({ recursive: true }): Node 20's loops forever
 * where mkdir keeps failing with ENOENT under an existing parent (/proc/self/x).
 */
function makeDirectory (dir: string, depth = 0): void {
  try {
    fs.mkdirSync(dir)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST' && fs.statSync(dir).isDirectory()) return
    const parent = nodePath.dirname(dir)
    if (code !== 'ENOENT' || parent === dir || depth > 256) throw err
    makeDirectory(parent, depth + 1)
    fs.mkdirSync(dir)
  }
}

/** Every refusal happens here or in native code before a byte of the copy is written. */
function prepare (native: NativeStore, source: string, dest: unknown, options: unknown): { dir: string, compact: boolean } {
  if (typeof dest !== 'string' || dest === '') throw new TypeError(`dest must be a non-empty string, got ${describe(dest)}`)
  if (dest.includes('\0')) throw new TypeError('dest must not contain a NUL byte')
  const compact = booleanOption(methodOptions(options, ['compact'], 'backup()'), 'compact', false)
  if (!native.isOpen) throw new StoreClosedError('the store is closed')
  const dir = nodePath.resolve(dest)
  try {
    makeDirectory(dir)
  } catch (err) {
    throw targetError(dest, err as NodeJS.ErrnoException, 'create')
  }
  let st: fs.Stats
  try {
    st = fs.statSync(dir)
  } catch (err) {
    throw targetError(dest, err as NodeJS.ErrnoException, 'inspect')
  }
  if (!st.isDirectory()) throw new BackupTargetError(`${dest} is not a directory`, 'not-a-directory')
  const src = fs.statSync(source)
  if (src.dev === st.dev && src.ino === st.ino) {
    throw new BackupTargetError(`${dest} is the store's own directory`, 'source')
  }
  if (fs.existsSync(nodePath.join(dir, 'data.mdb'))) {
    throw new BackupTargetError(`${dest} already holds a data.mdb; back up into an empty or new directory`, 'exists')
  }
  return { dir, compact }
}

export function backup (native: NativeStore, source: string, dest: unknown, options: unknown): Promise<BackupResult> {
  try {
    const { dir, compact } = prepare(native, source, dest, options)
    return native.backup(dir, compact)
  } catch (err) {
    return Promise.reject(err)
  }
}
