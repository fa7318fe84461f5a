import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { open } from './helpers/lib'
import { tmpDir } from './helpers/tmp'

function byteSort (names: string[]): string[] {
  return names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
}

describe('list', () => {
  it('returns direct children once each, sorted bytewise, implicit parents included', () => {
    const store = open(tmpDir())
    store.transactionSync((txn) => {
      txn.write('p/a', '1')
      txn.write('p/a-b', '2')        // '-' sorts before '/', so p/a-b lies between p/a and p/a/…
      txn.write('p/a/c', '3')
      txn.write('p/a0', '4')
      txn.write('p/b.x/deep/er', '5') // '.' too
      txn.write('p/b/y', '6')         // implicit child b, after b.x's subtree
      txn.write('p/B', '7')
      txn.write('pp/other', '8')      // a sibling prefix, not a child of p
    })
    expect(store.list('p')).toEqual(['B', 'a', 'a-b', 'a0', 'b', 'b.x'])
    expect(store.list('p/a')).toEqual(['c'])
    expect(store.list('p/nothing')).toEqual([])
    expect(store.exists('p/b')).toBe(false)     // children, but no entry of its own
    expect(store.type('p/b')).toBeUndefined()
    store.close()
  })

  it('pages with { after, limit }', () => {
    const store = open(tmpDir())
    const names = Array.from({ length: 250 }, (_, i) => `n${String(i).padStart(3, '0')}`)
    store.transactionSync((txn) => {
      for (const n of names) {
        txn.write(`g/${n}`, n)
        txn.write(`g/${n}/sub/a`, n) // subtrees must be skipped, not scanned into the page
      }
    })
    const pages: string[][] = []
    let after: string | undefined
    for (;;) {
      const page = store.list('g', after === undefined ? { limit: 100 } : { after, limit: 100 })
      if (page.length === 0) break
      pages.push(page)
      after = page[page.length - 1]
    }
    expect(pages.map((p) => p.length)).toEqual([100, 100, 50])
    expect(pages.flat()).toEqual(names)
    expect(store.list('g', { after: 'n1' })[0]).toBe('n100')
    expect(store.list('g', { limit: 0 })).toEqual([])
    expect(() => store.list('g', { limit: -1 })).toThrow(RangeError)
    expect(() => store.list('g', { after: 5 as any })).toThrow(TypeError)
    store.close()
  })

  it('matches a model for random trees with awkward names (property)', () => {
    const store = open(tmpDir())
    let round = 0
    // segments over a small alphabet with bytes on both sides of '/'
    const seg = fc.stringMatching(/^[ab\-.0~]{1,3}$/).filter((s) => s !== '.' && s !== '..')
    fc.assert(fc.property(fc.array(fc.array(seg, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 30 }),
      fc.option(seg, { nil: undefined }), fc.integer({ min: 1, max: 5 }), (paths, after, limit) => {
        const root = `r${round++}`
        const keys = paths.map((p) => `${root}/${p.join('/')}`)
        store.transactionSync((txn) => keys.forEach((k) => txn.write(k, 'v')))
        const children = new Set(paths.map((p) => p[0]))
        const expected = byteSort([...children])
        expect(store.list(root)).toEqual(expected)
        const afterExpected = expected.filter((n) => after === undefined || Buffer.compare(Buffer.from(n), Buffer.from(after)) > 0)
        expect(store.list(root, { after, limit })).toEqual(afterExpected.slice(0, limit))
      }), { numRuns: 150 })
    store.close()
  })
})

describe('keys (literal keys, for tools)', () => {
  it('returns literal keys bytewise, filtered by prefix, paged by after/limit, links not followed', () => {
    const store = open(tmpDir())
    store.transactionSync((txn) => {
      txn.write('a/b', '1')
      txn.write('a-c', '2')
      txn.makeGroup('z')
      txn.makeLink('z', 'l')
    })
    expect(store.keys()).toEqual(['a-c', 'a/b', 'l', 'z'])
    expect(store.keys({ prefix: 'a' })).toEqual(['a-c', 'a/b'])
    expect(store.keys({ prefix: 'l/' })).toEqual([]) // 'l' is a link: nothing literal under it
    expect(store.keys({ after: 'a/b' })).toEqual(['l', 'z'])
    expect(store.keys({ prefix: 'a', after: 'a-c' })).toEqual(['a/b'])
    expect(store.keys({ limit: 2 })).toEqual(['a-c', 'a/b'])
    expect(store.keys({ limit: 0 })).toEqual([])
    expect(() => store.keys({ prefix: 1 as any })).toThrow(TypeError)
    expect(() => store.keys({ limit: 1.5 })).toThrow(RangeError)
    const txn = store.begin()
    txn.write('a/new', 'x')
    expect(txn.keys({ prefix: 'a/' })).toEqual(['a/b', 'a/new'])
    txn.abort()
    store.close()
  })
})
