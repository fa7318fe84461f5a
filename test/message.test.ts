import { describe, expect, it } from 'vitest'
import { open, InvalidPathError, KeyTooLongError, TransactionTooLargeError } from './helpers/lib'
import { tmpDir } from './helpers/tmp'

describe('writeMessage', () => {
  it('writes the group, every field, nested sub-groups and links in one transaction', () => {
    const store = open(tmpDir())
    const before = store.stat().lastTxnId
    const bytes = Buffer.from('0123456789')
    store.writeMessage({
      path: 'msg/abc',
      fields: {
        body: 'hello',
        raw: bytes.subarray(3, 6),                 // a view with a non-zero offset
        u8: new Uint8Array([9, 8, 7]),
        meta: { author: 'ann', tags: { a: '1' } }  // nested → sub-groups
      },
      links: [{ target: 'msg/abc', path: 'by-hash/xyz' }, { target: 'msg/abc/body', path: 'latest-body' }]
    })
    expect(store.stat().lastTxnId).toBe(before + 1)  // exactly one commit
    expect(store.type('msg/abc')).toBe('group')
    expect(store.list('msg/abc')).toEqual(['body', 'meta', 'raw', 'u8'])
    expect(store.readString('msg/abc/raw')).toBe('345')
    expect([...store.read('msg/abc/u8')!]).toEqual([9, 8, 7])
    expect(store.type('msg/abc/meta')).toBe('group')
    expect(store.type('msg/abc/meta/tags')).toBe('group')
    expect(store.readString('by-hash/xyz/meta/tags/a')).toBe('1')
    expect(store.readString('latest-body')).toBe('hello')
    store.close()
  })

  it('an empty message is just the group; a link may point anywhere', () => {
    const store = open(tmpDir())
    store.writeMessage({ path: 'm', fields: {}, links: [{ target: 'nowhere', path: 'l' }] })
    expect(store.type('m')).toBe('group')
    expect(store.list('m')).toEqual([])
    expect(store.type('l', { follow: false })).toBe('link')
    store.close()
  })

  it('txn.writeMessage joins the caller\'s transaction (content-addressed layout in one commit)', () => {
    const store = open(tmpDir())
    const before = store.stat().lastTxnId
    store.transactionSync((txn) => {
      txn.write('data/h1', 'blob one')
      txn.writeMessage({ path: 'msg/1', fields: {}, links: [{ target: 'data/h1', path: 'msg/1/body' }] })
      expect(txn.readString('msg/1/body')).toBe('blob one')
    })
    expect(store.stat().lastTxnId).toBe(before + 1)
    expect(store.readString('msg/1/body')).toBe('blob one')
    const txn = store.begin()
    txn.writeMessage({ path: 'msg/2', fields: { a: '1' } })
    txn.abort()
    expect(store.exists('msg/2')).toBe(false)
    store.close()
  })

  it.each([
    [{ path: 'm', fields: { '': 'x' } }, InvalidPathError, /field name "" at message.fields is empty/],
    [{ path: 'm', fields: { '.': 'x' } }, InvalidPathError, /'\.'/],
    [{ path: 'm', fields: { '..': 'x' } }, InvalidPathError, /'\.\.'/],
    [{ path: 'm', fields: { 'a/b': 'x' } }, InvalidPathError, /contains '\/'/],
    [{ path: 'm', fields: { ok: { 'x/y': '1' } } }, InvalidPathError, /message.fields.ok/],
    [{ path: 'm', fields: { n: 42 } }, TypeError, /message.fields.n must be a Uint8Array, a string or a plain object/],
    [{ path: 'm', fields: { d: new Date() } }, TypeError, /message.fields.d/],
    [{ path: 'm', fields: { deep: { er: null } } }, TypeError, /message.fields.deep.er/],
    [{ path: 'm', fields: { a: new Uint16Array(1) } }, TypeError, /message.fields.a/],
    [{ path: '', fields: {} }, InvalidPathError, /message.path/],
    [{ path: 5, fields: {} }, TypeError, /message.path must be a string/],
    [{ path: 'm' }, TypeError, /message.fields must be a plain object/],
    [{ path: 'm', fields: [] }, TypeError, /message.fields/],
    [{ path: 'm', fields: {}, links: {} }, TypeError, /message.links must be an array/],
    [{ path: 'm', fields: {}, links: [{ target: 'a/../b', path: 'l' }] }, InvalidPathError, /message.links\[0\].target/],
    [{ path: 'm', fields: {}, links: [{ target: 'a' }] }, TypeError, /message.links\[0\].path must be a string/],
    [{ path: 'm', fields: { ['f'.repeat(600)]: 'x' } }, KeyTooLongError, /message.fields/],
    [null, TypeError, /message must be an object/]
  ])('rejects bad message %# before writing anything', (message, Cls, pattern) => {
    const store = open(tmpDir())
    // a valid field before the bad one must not be written either
    const withGood = message && typeof message === 'object' && (message as any).fields && !Array.isArray((message as any).fields)
      ? { ...message, fields: { aaa: 'good', ...(message as any).fields } }
      : message
    expect(() => store.writeMessage(withGood as any)).toThrow(Cls)
    expect(() => store.writeMessage(withGood as any)).toThrow(pattern)
    const txn = store.begin()
    expect(() => txn.writeMessage(withGood as any)).toThrow(Cls)
    txn.write("still", "usable") // still usable: validation ran before any write
    txn.commit()
    expect(store.stat().entries).toBe(1)
    store.close()
  })

  it('a message over the limits is refused before a transaction opens', () => {
    const store = open(tmpDir(), { limits: { maxOps: 5, maxBytes: 1000 } })
    const fields = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`f${i}`, 'x']))
    expect(() => store.writeMessage({ path: 'm', fields })).toThrow(TransactionTooLargeError) // 1 group + 5 fields
    expect(() => store.writeMessage({ path: 'm', fields: { big: 'x'.repeat(2000) } })).toThrow(/maxBytes/)
    store.writeMessage({ path: 'm', fields: { a: '1', b: '2' } })
    expect(store.list('m')).toEqual(['a', 'b'])
    store.close()
  })
})

describe('message input is read once (issue #13)', () => {
  it('fields and links are each read once: a getter cannot swap them after the check', () => {
    const store = open(tmpDir())
    let fieldReads = 0
    let linkReads = 0
    const message = {
      path: 'm',
      get fields () { return ++fieldReads === 1 ? { a: '1' } : 5 },
      get links () { return ++linkReads === 1 ? [{ target: 'm', path: 'l' }] : 'nope' }
    }
    store.writeMessage(message as any)
    expect([fieldReads, linkReads]).toEqual([1, 1])
    expect(store.readString('m/a')).toBe('1')
    expect(store.readString('l/a')).toBe('1')
    store.close()
  })
})
