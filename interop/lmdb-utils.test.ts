/**
 * Interchange with LMDB's own mdb_dump / mdb_load / mdb_stat (Debian's
 * lmdb-utils). Not part of `npm test` (which needs nothing but Node and npm;
 * the committed fixture in test/mdb-format.test.ts checks the format without
 * the tools): `npm run test:interop`, which .ci/run runs after installing
 * lmdb-utils. A missing tool fails here, never skips.
 */
import { describe, expect, it } from 'vitest'
import * as path from 'node:path'
import { spawnSync } from 'node:child_process'
import { tmpDir } from '../test/helpers/tmp'
import { deepCheck } from '../test/helpers/raw'
import { cli, sampleStore } from '../test/helpers/mdb-sample'

for (const tool of ['mdb_dump', 'mdb_load', 'mdb_stat']) {
  if (spawnSync(tool, ['-V']).error !== undefined) throw new Error(`${tool} not found: apt-get install lmdb-utils`)
}

describe('interchange with LMDB\'s mdb_dump / mdb_load / mdb_stat', () => {
  it('our bytevalue dump is byte-for-byte mdb_dump -a; each side loads the other\'s dump to the same records', () => {
    const dir = sampleStore()
    const ours = cli(['dump', '--format', 'mdb', '-a', dir]).stdout
    const theirs = spawnSync('mdb_dump', ['-a', dir], { encoding: 'utf8', maxBuffer: 1 << 28 })
    expect(theirs.status, theirs.stderr).toBe(0)
    expect(ours).toBe(theirs.stdout)
    const a = tmpDir('mdbfmt')
    // one database per mdb_load run
    const blocks = ours.split(/(?<=DATA=END\n)/)
    for (const block of blocks) {
      const name = /database=(\w+)/.exec(block)![1]
      const r = spawnSync('mdb_load', ['-s', name, a], { input: block, encoding: 'utf8' })
      expect(r.status, r.stderr).toBe(0)
    }
    expect(spawnSync('mdb_dump', ['-a', a], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout.replace(/mapsize=\d+/g, ''))
      .toBe(ours.replace(/mapsize=\d+/g, ''))
    const b = path.join(tmpDir('mdbfmt'), 'b')
    expect(cli(['load', '--format', 'mdb', b], theirs.stdout).code).toBe(0)
    expect(cli(['dump', '--format', 'mdb', '-a', b]).stdout.replace(/mapsize=\d+/g, '')).toBe(ours.replace(/mapsize=\d+/g, ''))
  })

  it('check --deep agrees with mdb_stat -efa on the page counts', () => {
    const dir = sampleStore()
    const st = spawnSync('mdb_stat', ['-e', '-f', '-a', dir], { encoding: 'utf8' })
    expect(st.status, st.stderr).toBe(0)
    const used = Number(/Number of pages used: (\d+)/.exec(st.stdout)![1])
    const free = Number(/Free pages: (\d+)/.exec(st.stdout)![1])
    const { report } = deepCheck(dir)
    expect(report.lmdb.pagesUsed).toBe(used)
    expect(report.lmdb.freePages).toBe(free)
  })
})
