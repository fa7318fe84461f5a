import { describe, expect, it } from 'vitest'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { spawnSync } from 'node:child_process'
import { ROOT } from './helpers/child'

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { sourceHash } = require('../scripts/source-hash.js')
// The loaded addon's own hash (internal: not part of the package's API).
// eslint-disable-next-line @typescript-eslint/no-var-requires
const nativeSourceHash: string = require('../dist/native.js').addon.sourceHash
const prebuild = path.join(ROOT, 'prebuilds', `${process.platform}-${process.arch}`, 'lmdb-txn.node')

describe('native binary', () => {
  it('the loaded addon was built from the current native sources', () => {
    expect(nativeSourceHash).toBe(sourceHash())
  })

  it('the committed prebuild is up to date (else run `npm run prebuild` and commit prebuilds/)', () => {
    expect(fs.existsSync(prebuild), `missing ${prebuild}`).toBe(true)
    // in a child: a second copy of the addon stays out of this process
    const r = spawnSync(process.execPath, ['-p', `require(${JSON.stringify(prebuild)}).sourceHash`], { encoding: 'utf8' })
    expect(r.stderr).toBe('')
    expect(r.stdout.trim(), 'prebuilds/ is stale: run `npm run prebuild` and commit it').toBe(sourceHash())
  })

  it('the prebuild needs only libc and exports no LMDB symbol', () => {
    const ldd = spawnSync('ldd', [prebuild], { encoding: 'utf8' })
    if (ldd.status === 0) expect(ldd.stdout).not.toMatch(/liblmdb|libstdc\+\+/)
    const nm = spawnSync('nm', ['-D', '--defined-only', prebuild], { encoding: 'utf8' })
    if (nm.status === 0) {
      const symbols = nm.stdout.trim().split('\n').map((l) => l.split(' ').pop())
      expect(symbols.sort()).toEqual(['napi_register_module_v1', 'node_api_module_get_api_version_v1'])
    }
  })
})
