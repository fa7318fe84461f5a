'use strict'
// classic-level (LevelDB). Durable writes are batch(…, { sync: true }): the
// log is synced before the promise resolves; concurrent batches share a sync.
const { requirePeer, peerVersion } = require('./util')

module.exports = {
  name: 'classic-level',
  pkg: 'classic-level',
  version: () => peerVersion('classic-level'),
  load: () => requirePeer('classic-level'),
  asyncWrites: true, // writes return promises
  syncsPerCommit: 1, // the log is synced once
  variants: {
    '1b': { 'batch(…, {sync: true})': {} },
    '1c': { 'batch(…, {sync: true}), concurrent': {} },
    3: { 'getSync()': {} }
  },

  async open (dir, { durability = 'sync' } = {}) {
    const { ClassicLevel } = requirePeer('classic-level')
    const db = new ClassicLevel(dir, { keyEncoding: 'utf8', valueEncoding: 'view' })
    await db.open()
    const sync = durability !== 'nosync'
    const batch = (entries) => db.batch(entries.map(([key, value]) => ({ type: 'put', key, value })), { sync })
    let pending = null
    return {
      write1b: { 'batch(…, {sync: true})': batch },
      write1c: { 'batch(…, {sync: true}), concurrent': batch },
      // bulk load: the puts gathered into one synced batch
      inTxn: async (fn) => { pending = []; fn(); await db.batch(pending, { sync: true }); pending = null },
      put: (key, value) => { pending.push({ type: 'put', key, value }) },
      read: { 'getSync()': (k) => db.getSync(k) },
      close: () => db.close()
    }
  }
}
