import { describe, expect, it } from 'vitest'
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { spawnSync } from 'node:child_process'
import { ROOT } from './helpers/child'

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { sourceHash, buildInputs } = require('../scripts/source-hash.js')
// eslint-disable-next-line @typescript-eslint/no-var-requires
const elf = require('../scripts/elf-check.js')
// The loaded addon's own hash (internal: not part of the package's API).
// eslint-disable-next-line @typescript-eslint/no-var-requires
const nativeSourceHash: string = require('../dist/native.js').addon.sourceHash
const prebuildDir = path.join(ROOT, 'prebuilds', 'linux-x64')
const prebuild = path.join(prebuildDir, 'lmdb-txn.glibc.node')
const REBUILD = 'rebuild it with scripts/build-prebuild.sh (docs/building.md) and commit prebuilds/'

describe('native binary', () => {
  it('the loaded addon was built from the current native sources', () => {
    expect(nativeSourceHash).toBe(sourceHash())
  })

  it('the source hash covers exactly the build inputs', () => {
    const inputs: string[] = buildInputs()
    expect(inputs).toContain('binding.gyp')
    expect(inputs).toContain('scripts/lmdb-object.sh')
    expect(inputs).toContain('native/exports.map')
    expect(inputs.filter((f) => f.endsWith('.h')).length).toBeGreaterThan(0)
    expect(inputs.filter((f) => !/^(binding\.gyp|scripts\/lmdb-object\.sh|native\/[\w.]+\.(cc|c|h|map))$/.test(f))).toEqual([])
    // a stray file next to the sources (an editor backup, a *.orig) changes nothing
    const stray = path.join(ROOT, 'native', `stray-${process.pid}.orig`)
    const before = sourceHash()
    fs.writeFileSync(stray, 'not a build input')
    try { expect(sourceHash()).toBe(before) } finally { fs.rmSync(stray) }
  })

  it(`the committed glibc prebuild is the only linux-x64 binary and is up to date (else ${REBUILD})`, () => {
    expect(fs.readdirSync(prebuildDir)).toEqual(['lmdb-txn.glibc.node'])
    // in a child: a second copy of the addon stays out of this process
    const r = spawnSync(process.execPath, ['-p', `require(${JSON.stringify(prebuild)}).sourceHash`], { encoding: 'utf8' })
    expect(r.stderr).toBe('')
    expect(r.stdout.trim(), `prebuilds/ is stale: ${REBUILD}`).toBe(sourceHash())
  })

  it('the prebuild needs nothing above GLIBC_2.31, only libraries Node loads, and exports only the Node-API entry points', () => {
    const facts = elf.readElf(prebuild)
    const glibc = facts.versions.filter((v: { name: string }) => v.name.startsWith('GLIBC_')).map((v: { name: string }) => v.name)
    expect(glibc.length).toBeGreaterThan(0) // the reader really found the version needs
    expect(facts.needed).toContain('libc.so.6')
    expect(elf.prebuildProblems(prebuild)).toEqual([])
    expect(facts.exports).toEqual(['napi_register_module_v1', 'node_api_module_get_api_version_v1'])
  })

  it('the ELF check reads symbol versions: it flags this machine\'s node binary (newer glibc / not a Node-API module)', () => {
    // node itself exports thousands of symbols; the reader must see them
    const facts = elf.readElf(process.execPath)
    expect(facts.exports.length).toBeGreaterThan(1000)
    expect(facts.needed).toContain('libc.so.6')
    expect(elf.prebuildProblems(process.execPath).some((p: string) => p.startsWith('exports '))).toBe(true)
  })
})

describe('the crash suite\'s prebuilt LD_PRELOAD shim (for machines without a C compiler)', () => {
  const shim = path.join(ROOT, 'test', 'crash', 'prebuilt', 'shim-linux-x64.so')
  it(`is built from the current test/crash/shim.c (else ${REBUILD})`, () => {
    const hash = crypto.createHash('sha256').update(fs.readFileSync(path.join(ROOT, 'test', 'crash', 'shim.c'))).digest('hex').slice(0, 16)
    expect(fs.readFileSync(`${shim}.source`, 'utf8').trim()).toBe(hash)
  })
  it('needs nothing above GLIBC_2.31', () => {
    const facts = elf.readElf(shim)
    expect(facts.needed).toContain('libc.so.6')
    const glibc = facts.versions.filter((v: { name: string }) => v.name.startsWith('GLIBC_'))
    expect(glibc.length).toBeGreaterThan(0)
    expect(glibc.filter((v: { name: string }) => elf.versionAbove(v.name.slice(6), elf.GLIBC_FLOOR))).toEqual([])
  })
})

describe('the prebuilt read-start stress (test/read-start.test.ts, for machines without g++ or liblmdb-dev)', () => {
  const bin = path.join(ROOT, 'test', 'native', 'prebuilt', 'read-start-stress-linux-x64')
  it(`is built from the current stress and native/read_start.* (else ${REBUILD})`, () => {
    const h = crypto.createHash('sha256')
    for (const f of ['test/native/read-start-stress.cc', 'native/read_start.h', 'native/read_start.cc']) h.update(fs.readFileSync(path.join(ROOT, f)))
    expect(fs.readFileSync(`${bin}.source`, 'utf8').trim()).toBe(h.digest('hex').slice(0, 16))
  })
  it('needs nothing above GLIBC_2.31 and no liblmdb or libstdc++', () => {
    const facts = elf.readElf(bin)
    expect(facts.needed).toContain('libc.so.6')
    expect(facts.needed.filter((n: string) => /lmdb|stdc\+\+/.test(n))).toEqual([])
    const glibc = facts.versions.filter((v: { name: string }) => v.name.startsWith('GLIBC_'))
    expect(glibc.filter((v: { name: string }) => elf.versionAbove(v.name.slice(6), elf.GLIBC_FLOOR))).toEqual([])
  })
})

describe('loading where no prebuild fits', () => {
  function loadWith (env: Record<string, string>): ReturnType<typeof spawnSync> {
    return spawnSync(process.execPath, ['-e', `require(${JSON.stringify(ROOT)})`], {
      encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000
    })
  }

  it('on musl the tagged glibc prebuild is not picked: one line saying how to build from source', () => {
    // a package directory with the prebuilds but no build/ (LMDB_TXN_PREBUILD redirects node-gyp-build)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lmdb-txn-musl-'))
    try {
      fs.cpSync(path.join(ROOT, 'prebuilds'), path.join(dir, 'prebuilds'), { recursive: true })
      const glibc = loadWith({ LMDB_TXN_PREBUILD: dir })
      expect(glibc.status, String(glibc.stderr)).toBe(0) // control: on glibc the same directory loads
      const r = loadWith({ LMDB_TXN_PREBUILD: dir, LIBC: 'musl' })
      expect(r.status).toBe(1)
      const line = String(r.stderr).split('\n').find((l) => l.startsWith('Error: lmdb-txn: no usable native binary')) ?? ''
      expect(line).toMatch(/^Error: lmdb-txn: no usable native binary for linux-x64 \(glibc [\d.]+\): No native build was found for .*libc=musl.*\. Build it from source: .*apt-get install g\+\+ make python3 liblmdb-dev.*apk add build-base python3 lmdb-dev.*npm rebuild lmdb-txn/)
      expect(String(r.stderr)).not.toMatch(/dlopen|ERR_DLOPEN_FAILED/)
    } finally { fs.rmSync(dir, { recursive: true, force: true }) }
  })

  it('with no binary at all (another platform): the same one-line error', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lmdb-txn-none-'))
    try {
      const r = loadWith({ LMDB_TXN_PREBUILD: dir })
      expect(r.status).toBe(1)
      expect(String(r.stderr)).toMatch(/Error: lmdb-txn: no usable native binary for linux-x64 .*No native build was found.*Build it from source/)
    } finally { fs.rmSync(dir, { recursive: true, force: true }) }
  })

  it('a binary the loader refuses (dlopen fails) gives the same one-line error, not the dlopen message alone', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lmdb-txn-bad-'))
    try {
      fs.mkdirSync(path.join(dir, 'prebuilds', 'linux-x64'), { recursive: true })
      fs.writeFileSync(path.join(dir, 'prebuilds', 'linux-x64', 'lmdb-txn.glibc.node'), 'not an ELF file')
      const r = loadWith({ LMDB_TXN_PREBUILD: dir })
      expect(r.status).toBe(1)
      expect(String(r.stderr)).toMatch(/Error: lmdb-txn: no usable native binary for linux-x64 \(glibc [\d.]+\): .*Build it from source/)
    } finally { fs.rmSync(dir, { recursive: true, force: true }) }
  })
})
