'use strict'
// better-sqlite3 in WAL mode with synchronous=FULL (a commit returns after the
// WAL is synced), one key-value table WITHOUT ROWID.
const path = require('path')
const { requirePeer, peerVersion } = require('./util')

module.exports = {
  name: 'better-sqlite3',
  pkg: 'better-sqlite3',
  version: () => peerVersion('better-sqlite3'),
  load: () => requirePeer('better-sqlite3'),
  syncsPerCommit: 1, // the WAL is synced once per commit
  variants: {
    '1b': { 'transaction()': {} },
    2: { 'insert in transaction()': {} },
    3: { 'prepared get()': {} }
  },

  open (dir, { durability = 'sync' } = {}) {
    const Database = requirePeer('better-sqlite3')
    require('fs').mkdirSync(dir, { recursive: true })
    const db = new Database(path.join(dir, 'bench.sqlite'))
    db.pragma('journal_mode = WAL')
    db.pragma(`synchronous = ${durability === 'nosync' ? 'OFF' : 'FULL'}`)
    db.exec('CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID')
    const ins = db.prepare('INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)')
    const sel = db.prepare('SELECT v FROM kv WHERE k = ?').pluck()
    const writeAll = db.transaction((entries) => { for (const [k, v] of entries) ins.run(k, v) })
    return {
      write1b: { 'transaction()': (entries) => writeAll(entries) },
      inTxn: (fn) => db.transaction(fn)(),
      put: (k, v) => { ins.run(k, v) },
      read: { 'prepared get()': (k) => sel.get(k) },
      close: () => db.close()
    }
  }
}
