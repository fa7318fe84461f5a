'use strict'
// node-lmdb: compiles from source; reported as skipped when it could not.
// Default env flags = LMDB sync commits.
const fs = require('fs')
const { requirePeer, peerVersion } = require('./util')

module.exports = {
  name: 'node-lmdb',
  pkg: 'node-lmdb',
  version: () => peerVersion('node-lmdb'),
  load: () => requirePeer('node-lmdb'),
  syncsPerCommit: 2, // LMDB sync commit: data pages, then the meta page
  variants: {
    '1b': { 'beginTxn()…commit()': {} },
    2: { 'putBinary() in one txn': {} },
    3: { 'getBinary() (renewed read txn)': {} },
    '8a': { 'cursor goToRange()…goToNext()': {} }
  },

  open (dir, { durability = 'sync' } = {}) {
    const lmdb = requirePeer('node-lmdb')
    fs.mkdirSync(dir, { recursive: true })
    const env = new lmdb.Env()
    env.open({
      path: dir,
      mapSize: 64 * 1024 ** 3,
      maxDbs: 2,
      noMetaSync: durability === 'nometasync',
      noSync: durability === 'nosync'
    })
    const dbi = env.openDbi({ name: 'kv', create: true })
    let txn = null
    const rtxn = env.beginTxn({ readOnly: true })
    rtxn.reset()
    return {
      write1b: {
        'beginTxn()…commit()': (entries) => {
          const t = env.beginTxn()
          for (const [k, v] of entries) t.putBinary(dbi, k, v)
          t.commit()
        }
      },
      inTxn (fn) {
        txn = env.beginTxn()
        try { fn() } catch (e) { txn.abort(); txn = null; throw e }
        txn.commit(); txn = null
      },
      put: (k, v) => txn.putBinary(dbi, k, v),
      read: {
        // like a store read: a fresh snapshot of the latest commit per call
        'getBinary() (renewed read txn)': (k) => { rtxn.renew(); const v = rtxn.getBinary(dbi, k); rtxn.reset(); return v }
      },
      // scenario 8: a cursor over the message's key range in a renewed read txn
      readWhole: {
        'cursor goToRange()…goToNext()': (p) => {
          const f = {}
          const end = p + '0'
          rtxn.renew()
          const c = new lmdb.Cursor(rtxn, dbi)
          try {
            for (let k = c.goToRange(p); k !== null && k < end; k = c.goToNext()) if (k !== p) f[k.slice(p.length + 1)] = c.getCurrentBinary()
          } finally {
            c.close()
            rtxn.reset()
          }
          return f
        }
      },
      fieldsOf: (r) => r,
      close () { rtxn.abort(); dbi.close(); env.close() }
    }
  }
}
