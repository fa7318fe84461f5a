'use strict'
// lmdb-js (`lmdb` on npm). Durable rows open it with overlappingSync off, so a
// sync call returns after LMDB's two syncs; rows marked `defaults` use the
// library's defaults (overlappingSync on: a commit may resolve before its sync).
const { requirePeer, peerVersion } = require('./util')

module.exports = {
  name: 'lmdb-js',
  pkg: 'lmdb',
  version: () => peerVersion('lmdb'),
  load: () => requirePeer('lmdb'),
  syncsPerCommit: 2, // LMDB sync commit: data pages, then the meta page
  asyncReads: { 'getMany() (async, awaited)': true },
  variants: {
    '1a': { 'putSync() per key': {} },
    '1b': { 'transactionSync()': {} },
    '1c': {
      'transaction() as-is (resolves before sync)': { defaults: true, durable: false, note: 'resolves before its sync' },
      'transaction() + await db.flushed': { defaults: true },
      'transaction(), overlappingSync off': {}
    },
    2: { 'put() in transactionSync()': {} },
    3: { 'get()': {}, 'getBinary()': {} },
    '8a': { 'getRange({ start, end })': {} },
    '8b': { 'getMany() (async, awaited)': {}, 'get() per key': {} },
    4: {
      'transactionSync() per insert': { mode: 'sync' },
      'transaction() per insert, 64 in flight': { mode: 'group' },
      'transaction() per insert, 64 in flight, vectors cached in JS': { mode: 'group', cacheVectors: true }
    }
  },

  open (dir, { durability = 'sync', defaults = false } = {}) {
    const lmdb = requirePeer('lmdb')
    const options = { path: dir, encoding: 'binary', compression: false }
    if (!defaults) {
      options.overlappingSync = false
      if (durability === 'nometasync') options.noMetaSync = true
      if (durability === 'nosync') options.noSync = true
    }
    const db = lmdb.open(options)
    const putAll = (entries) => { for (const [k, v] of entries) db.put(k, v) }
    const kv = { get: k => db.get(k), put: (k, v) => { db.put(k, v) } }
    return {
      write1a (entries) { for (const [k, v] of entries) db.putSync(k, v) },
      write1b: { 'transactionSync()': (entries) => db.transactionSync(() => putAll(entries)) },
      write1c: {
        'transaction() as-is (resolves before sync)': (entries) => db.transaction(() => putAll(entries)),
        'transaction() + await db.flushed': async (entries) => { await db.transaction(() => putAll(entries)); await db.flushed },
        'transaction(), overlappingSync off': (entries) => db.transaction(() => putAll(entries))
      },
      inTxn: (fn) => db.transactionSync(fn),
      put: (k, v) => { db.put(k, v) },
      // scenario 4: reads inside a write transaction see its own writes
      kvSync: (fn) => db.transactionSync(() => fn(kv)),
      kvAsync: (fn) => db.transaction(() => fn(kv)),
      kvRead: kv,
      read: { 'get()': (k) => db.get(k), 'getBinary()': (k) => db.getBinary(k) },
      // scenario 8: the message's key range (group mark + fields), values as stored
      readWhole: {
        'getRange({ start, end })': (p) => {
          const f = {}
          for (const { key, value } of db.getRange({ start: p, end: p + '0' })) if (key !== p) f[key.slice(p.length + 1)] = value
          return f
        }
      },
      fieldsOf: (r) => r,
      readMany: {
        'getMany() (async, awaited)': (keys) => db.getMany(keys),
        'get() per key': (keys) => keys.map(k => db.get(k))
      },
      close: () => db.close()
    }
  }
}
