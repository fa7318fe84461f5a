'use strict'
// Installs the benchmark peers (bench/package.json) into bench/node_modules
// on first use, and again when bench/package.json changes. npm ≥ 11 runs a
// dependency's install script only when the project allows it: the peers'
// scripts (prebuild download or compile) are listed in `allowScripts`. All
// peers are optional dependencies: one that cannot build is left out by npm
// and reported as skipped by the benchmark, with the reason.
const fs = require('fs')
const path = require('path')
const { spawnSync } = require('child_process')

const BENCH = __dirname
const STAMP = path.join(BENCH, 'node_modules', '.lmdb-txn-bench-peers')

function upToDate () {
  try {
    const stamp = fs.readFileSync(STAMP, 'utf8')
    return stamp === fs.readFileSync(path.join(BENCH, 'package.json'), 'utf8')
  } catch {
    return false
  }
}

function installPeers ({ force = false } = {}) {
  if (!force && upToDate()) return true
  console.error('bench: installing the benchmark peers into bench/node_modules (first run; native builds may take minutes)…')
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const r = spawnSync(npm, ['install', '--no-audit', '--no-fund', '--foreground-scripts'], {
    cwd: BENCH, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, npm_config_update_notifier: 'false' }
  })
  if (r.error || r.status !== 0) {
    console.error(`bench: npm install of the peers failed (${r.error ? r.error.message : 'exit ' + r.status}); missing peers are reported as skipped`)
    return false
  }
  fs.writeFileSync(STAMP, fs.readFileSync(path.join(BENCH, 'package.json'), 'utf8'))
  return true
}

module.exports = { installPeers }
if (require.main === module) process.exit(installPeers({ force: process.argv.includes('--force') }) ? 0 : 1)
