'use strict'
// Every scenario, in report order. A scenario: { id, title, unit, describe,
// rows(quick) → [{ peer, variant, group?, params }], run(ctx) → result }.
const list = [
  ...require('./1-message-write'),
  require('./2-puts-in-txn'),
  require('./3-point-reads'),
  require('./4-ryw-index'),
  ...require('./5-cost-growth'),
  require('./6-event-loop'),
  require('./7-replication'),
  ...require('./8-message-reads'),
  require('./9-backup')
]
const byId = Object.fromEntries(list.map(s => [s.id, s]))

function get (id) {
  const s = byId[id]
  if (!s) throw new Error(`unknown scenario ${id}`)
  return s
}

module.exports = { list, get }
