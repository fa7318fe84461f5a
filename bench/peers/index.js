'use strict'
// The peers, in report order. Each adapter: { name, pkg, version(), load(),
// variants: { scenarioId: { label: options } }, open(dir, options) → handle }.
const adapters = [
  require('./lmdb-txn'),
  require('./lmdb-js'),
  require('./node-lmdb'),
  require('./better-sqlite3'),
  require('./classic-level'),
  require('./memory')
]
const byName = Object.fromEntries(adapters.map(a => [a.name, a]))

function get (name) {
  const a = byName[name]
  if (!a) throw new Error(`unknown peer ${name}`)
  return a
}

module.exports = { adapters, get, SUBJECT: 'lmdb-txn' }
