'use strict'
// One benchmark job in a fresh process on a fresh temporary directory.
// Usage (by run.js): fork(child.js, [JSON job]); replies with one message:
// { status: 'ok' | 'skipped' | 'not available' | 'error', result?, reason? }
const fs = require('fs')
const os = require('os')
const path = require('path')
const { NotAvailable } = require('./peers/util')

async function main () {
  const job = JSON.parse(process.argv[2])
  if (job.scenario === 'probe') return { status: 'ok', result: require('./lib/system').probePeers() }
  if (job.scenario === 'fsync') return withDir(dir => ({ status: 'ok', result: require('./lib/system').fsyncProbe(dir, job.params) }))

  const scenario = require('./scenarios').get(job.scenario)
  const adapter = require('./peers').get(job.peer)
  try {
    adapter.load()
  } catch (e) {
    if (adapter.name === 'lmdb-txn') throw e // the subject must load
    return { status: 'skipped', reason: firstLine(e) }
  }
  return withDir(async dir => {
    try {
      const result = await scenario.run({ adapter, variant: job.variant, params: job.params, dir, tmp: path.dirname(dir) })
      return { status: 'ok', result }
    } catch (e) {
      if (e instanceof NotAvailable) return { status: 'not available', reason: e.message }
      throw e
    }
  })
}

async function withDir (fn) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lmdb-txn-bench-'))
  try {
    fs.mkdirSync(path.join(dir, 'db'))
    return await fn(path.join(dir, 'db'))
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

function firstLine (e) {
  return String(e && e.message ? e.message : e).split('\n')[0].slice(0, 200)
}

main().then(
  reply => process.send(reply, () => process.exit(0)),
  e => process.send({ status: 'error', reason: firstLine(e), stack: e && e.stack }, () => process.exit(1))
)
