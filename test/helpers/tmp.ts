import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach } from 'vitest'

const dirs: string[] = []

/** A fresh empty directory, removed after the test. */
export function tmpDir (label = 'store'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `lmdb-txn-${label}-`))
  dirs.push(dir)
  return dir
}

afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})
