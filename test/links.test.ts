import { describe, expect, it } from 'vitest'
import { open, LinkLoopError, type Store } from './helpers/lib'
import { tmpDir } from './helpers/tmp'

function seeded (opts = {}): Store {
  const store = open(tmpDir(), opts)
  store.transactionSync((txn) => {
    txn.makeGroup('x')
    txn.write('x/b/c', 'deep')
    txn.write('x/v', 'value')
    txn.makeLink('x', 'a')              // a → x
    txn.makeLink('a/b', 'alias')        // alias → a/b (a link through a link)
    txn.makeLink('nowhere/at/all', 'dangling')
  })
  return store
}

describe('links', () => {
  it('are followed segment by segment, like a file system', () => {
    const store = seeded()
    expect(store.readString('a/b/c')).toBe('deep')
    expect(store.readString('alias/c')).toBe('deep')
    expect(store.resolve('a/b/c')).toBe('x/b/c')
    expect(store.resolve('alias/c')).toBe('x/b/c')
    expect(store.list('a')).toEqual(['b', 'v'])
    expect(store.list('alias')).toEqual(['c'])
    expect(store.type('a')).toBe('group')
    expect(store.type('a', { follow: false })).toBe('link')
    expect(store.exists('a/v')).toBe(true)
    store.close()
  })

  it('a read of a group is undefined; a link is followed to what it points at', () => {
    const store = seeded()
    expect(store.read('x')).toBeUndefined()
    expect(store.readString('a')).toBeUndefined()
    store.transactionSync((txn) => txn.makeLink('x/v', 'direct'))
    expect(store.readString('direct')).toBe('value')
    expect(store.type('direct')).toBe('simple')
    store.close()
  })

  it('a dangling link: nothing through it, type undefined, follow:false shows the link', () => {
    const store = seeded()
    expect(store.read('dangling')).toBeUndefined()
    expect(store.read('dangling/child')).toBeUndefined()
    expect(store.type('dangling')).toBeUndefined()
    expect(store.type('dangling', { follow: false })).toBe('link')
    expect(store.exists('dangling')).toBe(false)
    expect(store.resolve('dangling')).toBe('nowhere/at/all')
    expect(store.resolve('dangling/z')).toBe('nowhere/at/all/z')
    expect(store.list('dangling')).toEqual([])
    store.close()
  })

  it('resolve of a missing path follows the links that exist', () => {
    const store = seeded()
    expect(store.resolve('a/missing/deeper')).toBe('x/missing/deeper')
    expect(store.resolve('plain/missing')).toBe('plain/missing')
    store.close()
  })

  it('link targets are normalised when stored', () => {
    const store = open(tmpDir())
    store.transactionSync((txn) => {
      txn.write('t/v', '1')
      txn.makeLink('//t///', 'l')
    })
    expect(store.resolve('l/v')).toBe('t/v')
    expect(store.readString('l/v')).toBe('1')
    store.close()
  })

  it('a chain of exactly maxLinkDepth links resolves; one more throws LinkLoopError', () => {
    const depth = 5
    const store = open(tmpDir(), { maxLinkDepth: depth })
    store.transactionSync((txn) => {
      txn.write('end', 'reached')
      // l1 → end, l2 → l1, ... l(depth+1) → l(depth)
      txn.makeLink('end', 'l1')
      for (let i = 2; i <= depth + 1; i++) txn.makeLink(`l${i - 1}`, `l${i}`)
    })
    expect(store.readString(`l${depth}`)).toBe('reached')
    expect(() => store.readString(`l${depth + 1}`)).toThrow(LinkLoopError)
    expect(() => store.type(`l${depth + 1}`)).toThrow(LinkLoopError)
    expect(() => store.resolve(`l${depth + 1}`)).toThrow(LinkLoopError)
    expect(() => store.list(`l${depth + 1}`)).toThrow(LinkLoopError)
    expect(() => store.exists(`l${depth + 1}`)).toThrow(LinkLoopError)
    // follow:false does not hop the last link
    expect(store.type(`l${depth + 1}`, { follow: false })).toBe('link')
    store.close()
  })

  it('a cycle throws LinkLoopError with code LINK_LOOP', () => {
    const store = open(tmpDir())
    store.transactionSync((txn) => {
      txn.makeLink('b', 'a')
      txn.makeLink('a', 'b')
      txn.makeLink('c/x', 'c')   // c → c/x: through itself
    })
    expect(() => store.read('a')).toThrow(LinkLoopError)
    try { store.read('a/z') } catch (e: any) { expect(e.code).toBe('LINK_LOOP') }
    expect(() => store.read('c/y')).toThrow(LinkLoopError)
    store.close()
  })

  it('fast path: an exact key wins over a link in its prefix (hb_store semantics)', () => {
    const store = open(tmpDir())
    store.transactionSync((txn) => {
      txn.write('x/f', 'through link')
      txn.makeLink('x', 'a')
      txn.write('a/f', 'literal')      // writes never follow links
    })
    expect(store.readString('a/f')).toBe('literal')
    expect(store.readString('a/g')).toBeUndefined()
    expect(store.readString('x/f')).toBe('through link')
    store.close()
  })

  it('writes never follow links: writing under a link path writes the literal key', () => {
    const store = open(tmpDir())
    store.transactionSync((txn) => {
      txn.makeGroup('x')
      txn.makeLink('x', 'a')
    })
    store.transactionSync((txn) => txn.write('a', 'replaced'))
    expect(store.type('a', { follow: false })).toBe('simple')
    expect(store.type('x')).toBe('group')
    store.close()
  })

  it('a path that resolves past the key limit cannot exist', () => {
    const store = open(tmpDir())
    const long = 'L/' + 'y'.repeat(500)
    store.transactionSync((txn) => txn.makeLink(long, 's'))
    expect(store.read('s/' + 'z'.repeat(20))).toBeUndefined()
    expect(store.exists('s/' + 'z'.repeat(20))).toBe(false)
    expect(store.list('s/' + 'z'.repeat(20))).toEqual([])
    expect(store.resolve('s/zz')).toBe(long + '/zz')
    store.close()
  })
})

describe('readLink', () => {
  it('returns the stored target of a literal link key, never following links', () => {
    const store = open(tmpDir())
    store.transactionSync((txn) => {
      txn.write('x/v', '1')
      txn.makeLink('x', 'a')
      txn.makeLink('//a/v/', 'b')     // a link whose target passes through a link
      txn.makeGroup('g')
    })
    expect(store.readLink('a')).toBe('x')
    expect(store.readLink('b')).toBe('a/v')    // stored, normalised, not resolved
    expect(store.readLink('x/v')).toBeUndefined()
    expect(store.readLink('g')).toBeUndefined()
    expect(store.readLink('missing')).toBeUndefined()
    expect(store.readLink('a/v')).toBeUndefined() // through a link: not a literal key
    const txn = store.begin()
    txn.makeLink('g', 'c')
    expect(txn.readLink('c')).toBe('g')
    txn.abort()
    const snap = store.snapshot()
    expect(snap.readLink('a')).toBe('x')
    snap.close()
    expect(store.stat().formatVersion).toBe(1)
    store.close()
  })
})
