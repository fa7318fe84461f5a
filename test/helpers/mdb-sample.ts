/** The CLI in a child process and the sample store of the mdb-format tests. */
import { spawnSync } from 'node:child_process'
import * as path from 'node:path'
import { open } from './lib'
import { ROOT } from './child'
import { tmpDir } from './tmp'

const BIN = path.join(ROOT, 'bin', 'lmdb-txn.js')
export function cli (args: string[], input = ''): { code: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 28 })
  if (r.error) throw r.error
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

export function sampleStore (): string {
  const dir = tmpDir('mdbfmt')
  const store = open(dir)
  store.transactionSync((t) => {
    t.writeMessage({ path: 'msg/1', fields: { body: 'back\\slash and \n newline', bin: new Uint8Array([0, 255, 92, 10]) }, links: [{ target: 'msg/1', path: 'latest' }] })
    for (let i = 0; i < 300; i++) t.write(`k/${String(i).padStart(4, '0')}`, 'v'.repeat(i * 20)) // some overflow pages
  })
  store.close()
  return dir
}
