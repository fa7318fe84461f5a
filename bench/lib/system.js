'use strict'
// Facts about this machine and run, recorded with every result set.
const fs = require('fs')
const os = require('os')
const path = require('path')
const { execFileSync } = require('child_process')
const { adapters } = require('../peers')

// Which peers load here, their versions, or why not.
function probePeers () {
  const out = {}
  for (const a of adapters) {
    try {
      a.load()
      out[a.name] = { available: true, version: a.version() }
    } catch (e) {
      const reason = String(e.message).split('\n')[0].slice(0, 200)
      out[a.name] = { available: false, version: a.version(), reason: a.installHint ? `${reason} (install: ${a.installHint})` : reason }
    }
  }
  return out
}

// fdatasync time of the temp file system: overwrite one 4 KiB page in place,
// and append 4 KiB pages to a growing file.
function fsyncProbe (dir, { syncs = 200 } = {}) {
  const page = Buffer.alloc(4096, 0xab)
  const result = {}
  for (const mode of ['overwrite', 'append']) {
    const file = path.join(dir, mode)
    const fd = fs.openSync(file, 'w+')
    try {
      if (mode === 'overwrite') { fs.writeSync(fd, page, 0, page.length, 0); fs.fdatasyncSync(fd) }
      const t = []
      for (let i = 0; i < syncs + 10; i++) {
        const t0 = process.hrtime.bigint()
        fs.writeSync(fd, page, 0, page.length, mode === 'overwrite' ? 0 : i * page.length)
        fs.fdatasyncSync(fd)
        if (i >= 10) t.push(Number(process.hrtime.bigint() - t0) / 1e6)
      }
      t.sort((a, b) => a - b)
      result[mode] = {
        n: t.length,
        meanMs: t.reduce((a, b) => a + b, 0) / t.length,
        p50Ms: t[Math.floor(t.length * 0.5)],
        p99Ms: t[Math.min(t.length - 1, Math.floor(t.length * 0.99))]
      }
    } finally {
      fs.closeSync(fd)
      fs.rmSync(file, { force: true })
    }
  }
  Object.assign(result, groupSyncProbe(dir))
  return result
}

// What one group commit's data sync costs: write `pages` 4 KiB pages into a
// file of `filePages` pages, then fdatasync. 'scattered' picks them at random
// (ascending, as LMDB writes the pages it reuses from its free list);
// 'contiguous' takes a run (as appending at the end of the file does).
function groupSyncProbe (dir, { pages = 256, filePages = 16384, rounds = 40 } = {}) {
  const file = path.join(dir, 'group-sync')
  const page = Buffer.alloc(4096, 0xcd)
  const chunk = Buffer.alloc(4096 * 256, 0xcd)
  const fd = fs.openSync(file, 'w+')
  const out = {}
  try {
    for (let p = 0; p < filePages; p += 256) fs.writeSync(fd, chunk, 0, chunk.length, p * 4096)
    fs.fsyncSync(fd) // every page has its blocks: the rounds overwrite, as LMDB does
    let seed = 12345
    const rand = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 4294967296 }
    for (const mode of ['scattered', 'contiguous']) {
      const t = []
      for (let r = 0; r < rounds; r++) {
        let list
        if (mode === 'contiguous') {
          const base = Math.floor(rand() * (filePages - pages))
          list = Array.from({ length: pages }, (_, i) => base + i)
        } else {
          const set = new Set()
          while (set.size < pages) set.add(Math.floor(rand() * filePages))
          list = [...set].sort((a, b) => a - b)
        }
        page[0] = r
        const t0 = process.hrtime.bigint()
        for (const p of list) fs.writeSync(fd, page, 0, page.length, p * 4096)
        fs.fdatasyncSync(fd)
        t.push(Number(process.hrtime.bigint() - t0) / 1e6)
      }
      t.sort((a, b) => a - b)
      out[mode] = { pages, meanMs: t.reduce((a, b) => a + b, 0) / t.length, p50Ms: t[Math.floor(t.length / 2)] }
    }
  } finally {
    fs.closeSync(fd)
    fs.rmSync(file, { force: true })
  }
  return out
}

// Bytes this process has passed to write(2)-like calls so far (Linux
// /proc/self/io wchar), or undefined where that is not readable.
function bytesWritten () {
  try {
    const m = /^wchar: (\d+)$/m.exec(fs.readFileSync('/proc/self/io', 'utf8'))
    return m ? Number(m[1]) : undefined
  } catch {
    return undefined
  }
}

// The file system type of a directory, from the longest matching mount point.
function fsType (dir) {
  try {
    const real = fs.realpathSync(dir)
    let best = { mount: '', type: 'unknown', device: '' }
    for (const line of fs.readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [device, mount, type] = line.split(' ')
      if (!mount) continue
      const m = mount.replace(/\\040/g, ' ')
      if ((real === m || real.startsWith(m.endsWith('/') ? m : m + '/')) && m.length >= best.mount.length) best = { mount: m, type, device }
    }
    return best
  } catch {
    return { mount: '', type: 'unknown', device: '' }
  }
}

function git (args) {
  try { return execFileSync('git', args, { cwd: path.join(__dirname, '..', '..'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() } catch { return null }
}

// which lmdb-txn build is measured: the working tree, or a snapshot made by
// bench/snapshot.sh and named by LMDB_TXN_MODULE
function subjectBuild () {
  const mod = process.env.LMDB_TXN_MODULE
  if (mod) {
    let commit = null
    try { commit = fs.readFileSync(path.join(mod, '.snapshot-commit'), 'utf8').trim() } catch {}
    return { lmdbTxnModule: mod, commit }
  }
  return {
    commit: git(['rev-parse', '--short', 'HEAD']),
    dirty: git(['status', '--porcelain', '--', 'native', 'lib', 'binding.gyp']) ? true : undefined
  }
}

function systemInfo () {
  const cpus = os.cpus()
  const tmp = os.tmpdir()
  return {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpu: cpus.length ? cpus[0].model.trim() : 'unknown',
    cpuCount: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    loadAverage: os.loadavg().map(x => Math.round(x * 100) / 100),
    tmpdir: tmp,
    fileSystem: fsType(tmp),
    ...subjectBuild()
  }
}

module.exports = { bytesWritten, groupSyncProbe, probePeers, fsyncProbe, systemInfo }
