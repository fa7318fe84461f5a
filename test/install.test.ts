/**
 * Installing the package as a new user would, on a PATH with no compiler:
 * `npm pack`, then `npm install <tarball>` in an empty directory whose PATH
 * holds only node, npm and sh (no cc/g++/make/pkg-config) and where
 * pkg-config could not find LMDB anyway. The committed prebuild must be
 * what loads. Then ESM import, CommonJS require and the CLI from
 * node_modules/.bin each work against a real store.
 *
 * One pack and one install per run (the install is the slow part).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { ROOT } from './helpers/child'

const TIMEOUT = 300_000

function which (name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, name)
    try {
      fs.accessSync(p, fs.constants.X_OK)
      return p
    } catch {}
  }
  return undefined
}

function check (r: SpawnSyncReturns<string>, what: string): string {
  if (r.error) throw r.error
  if (r.status !== 0) throw new Error(`${what} failed (status ${r.status}, signal ${r.signal}):\n${r.stdout}\n${r.stderr}`)
  return r.stdout
}

let work: string       // everything of this run: removed at the end
let app: string        // the user's project
let env: NodeJS.ProcessEnv
let installLog = ''

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'lmdb-txn-install-'))
  const packDir = path.join(work, 'pack')
  const bin = path.join(work, 'bin')
  const noPkgConfig = path.join(work, 'pkgconfig-empty')
  app = path.join(work, 'app')
  for (const d of [packDir, bin, noPkgConfig, app]) fs.mkdirSync(d)

  // 1. pack. Not through `prepare`: rebuilding dist/ here would rewrite files
  // that tests running in parallel are loading; `npm test` built it (pretest).
  for (const f of ['dist/index.js', 'dist/index.mjs', 'dist/cli/index.js']) {
    if (!fs.existsSync(path.join(ROOT, f))) throw new Error(`${f} is missing: run npm run build:ts`)
  }
  const packed = JSON.parse(check(spawnSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', packDir], {
    cwd: ROOT, encoding: 'utf8', timeout: TIMEOUT
  }), 'npm pack'))
  const tarball = path.join(packDir, packed[0].filename)

  // 2. a PATH with node, npm and sh only (npm runs scripts with `sh -c`)
  const npm = which('npm')
  if (npm === undefined) throw new Error('npm is not on PATH')
  fs.symlinkSync(process.execPath, path.join(bin, 'node'))
  fs.symlinkSync(fs.realpathSync(npm), path.join(bin, 'npm'))
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh'))
  env = {
    HOME: process.env.HOME ?? os.homedir(),
    PATH: bin,
    TMPDIR: os.tmpdir(),
    PKG_CONFIG_PATH: '',
    PKG_CONFIG_LIBDIR: noPkgConfig,
    npm_config_update_notifier: 'false'
  }
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(https?|no)_proxy$/i.test(k) && v !== undefined) env[k] = v
  }

  // 3. install the tarball. npm ≥ 11.16 checks dependency install scripts
  // against the project's `allowScripts` (advisory in npm 11, enforced in
  // npm 12); a local tarball is identified as `file:<absolute path>`.
  // Loading does not depend on the script: with the prebuild present,
  // node-gyp-build's install step builds nothing.
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({
    name: 'lmdb-txn-install-check', private: true, allowScripts: { [`file:${tarball}`]: true }
  }, null, 2))
  const r = spawnSync('npm', ['install', tarball, '--ignore-scripts=false', '--foreground-scripts',
    '--no-audit', '--no-fund', '--prefer-offline'], { cwd: app, env, encoding: 'utf8', timeout: TIMEOUT })
  installLog = r.stdout + r.stderr
  check(r, 'npm install')
}, TIMEOUT)

afterAll(() => { if (work !== undefined) fs.rmSync(work, { recursive: true, force: true }) })

function runIn (cmd: string, args: string[], input?: string): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd: app, env, encoding: 'utf8', timeout: 60_000, input })
}

describe('npm install of the packed tarball, with no compiler on PATH', () => {
  it('the PATH really has no compiler, make or pkg-config', () => {
    const r = runIn('sh', ['-c', 'for c in cc gcc g++ c++ clang make pkg-config; do command -v $c; done; true'])
    expect(r.stdout).toBe('')
  })

  it('installed with the prebuild: the install script ran and built nothing', () => {
    expect(installLog).toMatch(/> node-gyp-build/)
    expect(installLog).not.toMatch(/gyp info|node-gyp rebuild|not yet covered by allowScripts/)
    const pkg = path.join(app, 'node_modules', 'lmdb-txn')
    expect(fs.existsSync(path.join(pkg, 'prebuilds', 'linux-x64', 'lmdb-txn.node'))).toBe(true)
    expect(fs.existsSync(path.join(pkg, 'build')), 'nothing compiled').toBe(false)
    const files = fs.readdirSync(pkg).sort()
    expect(files).toEqual(['README.md', 'bin', 'binding.gyp', 'dist', 'native', 'package.json', 'prebuilds', 'scripts', 'sync']
      .concat(fs.existsSync(path.join(ROOT, 'LICENSE')) ? ['LICENSE'] : []).sort())
    expect(fs.existsSync(path.join(pkg, 'test'))).toBe(false)
    // lmdb-txn/sync resolves for old resolvers too (sync/package.json points into dist)
    expect(JSON.parse(fs.readFileSync(path.join(pkg, 'sync', 'package.json'), 'utf8')).main).toBe('../dist/sync/index.js')
  })

  it('ESM: import and import() open a store, write a message in one transaction, read it back', () => {
    fs.writeFileSync(path.join(app, 'esm.mjs'), `
      import lmdb, { open, LinkLoopError, lmdbVersion } from 'lmdb-txn'
      import { createRequire } from 'node:module'
      const dynamic = await import('lmdb-txn')
      const cjs = createRequire(import.meta.url)('lmdb-txn')
      const store = dynamic.open(process.argv[2])
      const txn = store.begin()
      txn.makeGroup('msg/esm')
      txn.write('msg/esm/body', 'hello from ESM')
      txn.write('msg/esm/raw', new Uint8Array([1, 2, 3]))
      txn.makeLink('msg/esm', 'by-hash/esm')
      txn.commit()
      console.log(JSON.stringify({
        body: store.readString('by-hash/esm/body'),
        raw: [...store.read('msg/esm/raw')],
        type: store.type('by-hash/esm', { follow: false }),
        oneModule: dynamic.open === open && lmdb.open === open && cjs.open === open && cjs.LinkLoopError === LinkLoopError,
        lmdbVersion
      }))
      store.close()
    `)
    const store = path.join(work, 'esm-store')
    const r = runIn('node', ['esm.mjs', store])
    expect(r.stderr).toBe('')
    expect(JSON.parse(check(r, 'esm.mjs'))).toEqual({
      body: 'hello from ESM', raw: [1, 2, 3], type: 'link', oneModule: true, lmdbVersion: expect.stringMatching(/^0\.9\./)
    })
  })

  it('CommonJS: require opens a store, writes a message in one transaction, reads it back', () => {
    fs.writeFileSync(path.join(app, 'cjs.cjs'), `
      const { open } = require('lmdb-txn')
      const store = open(process.argv[2])
      store.transactionSync((txn) => {
        txn.writeMessage({ path: 'msg/cjs', fields: { body: 'hello from CommonJS', meta: { n: '1' } }, links: [{ target: 'msg/cjs', path: 'latest' }] })
        if (txn.readString('latest/body') !== 'hello from CommonJS') throw new Error('no read-your-writes')
      })
      console.log(JSON.stringify({ body: store.readString('latest/body'), list: store.list('msg/cjs'), where: require.resolve('lmdb-txn') }))
      store.close()
    `)
    const store = path.join(work, 'cjs-store')
    const out = JSON.parse(check(runIn('node', ['cjs.cjs', store]), 'cjs.cjs'))
    expect(out.body).toBe('hello from CommonJS')
    expect(out.list).toEqual(['body', 'meta'])
    expect(out.where).toBe(path.join(fs.realpathSync(app), 'node_modules', 'lmdb-txn', 'dist', 'index.js'))
  })

  it('the CLI runs from node_modules/.bin against a store written by the library', () => {
    const cli = path.join(app, 'node_modules', '.bin', 'lmdb-txn')
    const store = path.join(work, 'cli-store')
    check(runIn('node', ['-e', `
      const s = require('lmdb-txn').open(process.argv[1])
      s.writeMessage({ path: 'msg/1', fields: { body: 'via the CLI' }, links: [{ target: 'msg/1', path: 'first' }] })
      s.close()
    `, store]), 'writer')
    expect(check(runIn(cli, ['--version']), 'version').trim()).toMatch(/^\d+\.\d+\.\d+/)
    expect(check(runIn(cli, ['ls', store]), 'ls')).toBe('first\nmsg\n')
    expect(check(runIn(cli, ['get', store, 'first/body']), 'get')).toBe('via the CLI')
    expect(check(runIn(cli, ['check', store]), 'check')).toMatch(/^OK: 0 errors, 0 warnings$/m)
    const dumped = check(runIn(cli, ['dump', store]), 'dump')
    const copy = path.join(work, 'cli-copy')
    expect(check(runIn(cli, ['load', copy], dumped), 'load')).toMatch(/^loaded 3 entries/)
    expect(check(runIn(cli, ['tree', copy]), 'tree')).toContain('first -> msg/1')
    const missing = runIn(cli, ['stat', path.join(work, 'nope')])
    expect(missing.status).toBe(1)
    expect(missing.stderr).toMatch(/^lmdb-txn: no such directory: .*nope\n$/)
  })
})
