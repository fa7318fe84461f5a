'use strict'
// This package, loaded from the project root (package.json main → dist/).
// LMDB_TXN_MODULE overrides the path (to benchmark another build).
const path = require('path')
const { NotAvailable } = require('./util')

const ROOT = process.env.LMDB_TXN_MODULE || path.resolve(__dirname, '..', '..')

function writeBody (txn, msg) {
  txn.makeGroup(msg.path)
  for (const name in msg.fields) txn.write(msg.path + '/' + name, msg.fields[name])
  for (const link of msg.links) txn.makeLink(link.target, link.path)
}

module.exports = {
  name: 'lmdb-txn',
  pkg: 'lmdb-txn',
  version () {
    try { return require(path.join(ROOT, 'package.json')).version } catch { return null }
  },
  load: () => require(ROOT),
  syncsPerCommit: 2, // LMDB sync commit: data pages, then the meta page
  variants: {
    '1a': { 'begin…commit per key': {} },
    '1b': {
      'begin…commit': {},
      'writeMessage()': {},
      // weaker durability (an OS crash may lose the last commits): shows what one sync instead of two buys
      'begin…commit, nometasync (1 sync)': { durability: 'nometasync', durable: false, note: 'an OS crash may lose the last commits', syncsPerCommit: 1 }
    },
    '1c': { 'transaction()': {} },
    2: { 'write() in one begin…commit': {} },
    3: { 'read()': {}, 'read() through one link': { viaLink: true } },
    '8a': { 'readMessage()': {}, 'list() + read()': {} },
    '8b': { 'readMany()': {} },
    4: {
      'transactionSync() per insert': { mode: 'sync' },
      'transaction() per insert, 64 in flight': { mode: 'group' },
      'transaction() per insert, 64 in flight, vectors cached in JS': { mode: 'group', cacheVectors: true }
    }
  },

  open (dir, { durability = 'sync' } = {}) {
    const { open } = require(ROOT)
    const store = open(dir, { durability })
    let txn = null
    const one = (fn) => { const t = store.begin(); fn(t); t.commit() }
    return {
      // 1a: every key its own transaction (group, each field, each link)
      write1a (entries, msg) {
        one(t => t.makeGroup(msg.path))
        for (const name in msg.fields) one(t => t.write(msg.path + '/' + name, msg.fields[name]))
        for (const link of msg.links) one(t => t.makeLink(link.target, link.path))
      },
      write1b: {
        'begin…commit': (entries, msg) => { const t = store.begin(); writeBody(t, msg); t.commit() },
        'writeMessage()': (entries, msg) => store.writeMessage(msg),
        'begin…commit, nometasync (1 sync)': (entries, msg) => { const t = store.begin(); writeBody(t, msg); t.commit() }
      },
      // throws NotAvailable before a row that needs a missing API starts
      check (needs) {
        if (needs === 'transaction' && typeof store.transaction !== 'function') throw new NotAvailable('store.transaction() is not implemented yet (issue 7)')
      },
      write1c: { 'transaction()': (entries, msg) => store.transaction(t => writeBody(t, msg)) },
      inTxn (fn) {
        txn = store.begin()
        try { fn() } catch (e) { txn.abort(); txn = null; throw e }
        txn.commit(); txn = null
      },
      put: (k, v) => txn.write(k, v),
      putMessage: (entries, msg) => writeBody(txn, msg),
      link: (target, p) => txn.makeLink(target, p),
      // scenario 4: a key-value view inside one durable transaction
      kvSync: (fn) => store.transactionSync(t => fn({ get: k => t.read(k), put: (k, v) => t.write(k, v) })),
      kvAsync: (fn) => store.transaction(t => fn({ get: k => t.read(k), put: (k, v) => t.write(k, v) })),
      kvRead: { get: k => store.read(k) },
      read: { 'read()': (k) => store.read(k), 'read() through one link': (k) => store.read(k) },
      // scenario 8: a whole message; fieldsOf() gives { name: value } of what a row returned
      readWhole: {
        'readMessage()': (p) => store.readMessage(p),
        'list() + read()': (p) => { const f = {}; for (const n of store.list(p)) f[n] = store.read(p + '/' + n); return f }
      },
      fieldsOf: (r) => r.fields ?? r,
      readMany: { 'readMany()': (keys) => store.readMany(keys) },
      store,
      close: () => store.close()
    }
  }
}
