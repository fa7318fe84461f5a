import { describe, expect, it } from 'vitest'
import { open, BatchError, DuplicateKeyError, InvalidPathError, TransactionTooLargeError, type Store } from './helpers/lib'
import { tmpDir } from './helpers/tmp'

function seeded (): Store {
  const store = open(tmpDir())
  store.transactionSync((t) => { t.write('exists', 'old'); t.write('other', 'o') })
  return store
}

describe('batch', () => {
  it('applies the six ops in order in one commit and reports what existed', () => {
    const store = seeded()
    const before = store.stat().lastTxnId
    const result = store.batch([
      { op: 'insert', path: 'new', value: 'n' },
      { op: 'update', path: 'exists', value: 'updated' },
      { op: 'replace', path: 'r', value: new Uint8Array([1]) },
      { op: 'remove', path: 'other' },
      { op: 'group', path: 'g' },
      { op: 'link', target: 'new', path: 'l' }
    ])
    expect(result).toEqual({ committed: 6, existed: [false, true, false, true, false, false] })
    expect(store.stat().lastTxnId).toBe(before + 1)
    expect(store.readString('new')).toBe('n')
    expect(store.readString('exists')).toBe('updated')
    expect(store.exists('other')).toBe(false)
    expect(store.type('g')).toBe('group')
    expect(store.readString('l')).toBe('n')
    store.close()
  })

  it('empty batch: { committed: 0 } and no transaction', () => {
    const store = seeded()
    const before = store.stat().lastTxnId
    expect(store.batch([])).toEqual({ committed: 0, existed: [] })
    expect(store.batch([], { atomic: false })).toEqual({ committed: 0, existed: [] })
    expect(store.stat().lastTxnId).toBe(before)
    store.close()
  })

  it('atomic lane: an insert over an existing key aborts everything with BatchError', () => {
    const store = seeded()
    let err: any
    try {
      store.batch([
        { op: 'replace', path: 'a', value: '1' },
        { op: 'insert', path: 'exists', value: 'clash' },
        { op: 'replace', path: 'b', value: '2' }
      ])
    } catch (e) { err = e }
    expect(err).toBeInstanceOf(BatchError)
    expect(err.index).toBe(1)
    expect(err.op).toEqual({ op: 'insert', path: 'exists', value: 'clash' })
    expect(err.committed).toBe(0)
    expect(err.cause.message).toMatch(/already exists/)
    expect(store.exists('a')).toBe(false)
    expect(store.readString('exists')).toBe('old')
    store.close()
  })

  it('atomic lane: an update of a missing key aborts everything', () => {
    const store = seeded()
    expect(() => store.batch([{ op: 'replace', path: 'a', value: '1' }, { op: 'update', path: 'missing', value: 'x' }]))
      .toThrow(/does not exist; nothing was written/)
    expect(store.exists('a')).toBe(false)
    store.close()
  })

  it('non-atomic lane: fail-fast; ops before the failure stay committed and committed says how many', () => {
    const store = seeded()
    let err: any
    try {
      store.batch([
        { op: 'replace', path: 'a', value: '1' },
        { op: 'remove', path: 'other' },
        { op: 'update', path: 'missing', value: 'x' },
        { op: 'replace', path: 'never', value: '2' }
      ], { atomic: false })
    } catch (e) { err = e }
    expect(err).toBeInstanceOf(BatchError)
    expect(err.index).toBe(2)
    expect(err.committed).toBe(2)
    expect(store.readString('a')).toBe('1')
    expect(store.exists('other')).toBe(false)
    expect(store.exists('never')).toBe(false)
    store.close()
  })

  it('insert/update test the literal key, not what a link points at', () => {
    const store = open(tmpDir())
    store.transactionSync((t) => { t.write('x/f', 'target'); t.makeLink('x', 'a') })
    // a/f resolves through the link, but the literal key a/f does not exist
    expect(store.readString('a/f')).toBe('target')
    store.batch([{ op: 'insert', path: 'a/f', value: 'literal' }])
    expect(store.readString('x/f')).toBe('target')
    expect(store.readString('a/f')).toBe('literal')
    expect(() => store.batch([{ op: 'update', path: 'a/g', value: 'v' }])).toThrow(BatchError)
    store.close()
  })

  describe('phase 1: nothing is written when validation fails', () => {
    it.each([
      ['duplicate normalised paths', [{ op: 'replace', path: 'a/b', value: '1' }, { op: 'remove', path: '/a//b/' }], DuplicateKeyError, /ops\[1\] and ops\[0\]/],
      ['not an array', { op: 'replace' }, TypeError, /ops must be an array/],
      ['unknown op', [{ op: 'upsert', path: 'a', value: '1' }], TypeError, /ops\[0\]\.op must be one of/],
      ['op not an object', ['x'], TypeError, /ops\[0\] must be an object/],
      ['bad path', [{ op: 'replace', path: 'a', value: '1' }, { op: 'replace', path: 'a/../b', value: '1' }], InvalidPathError, /ops\[1\]\.path/],
      ['bad value', [{ op: 'insert', path: 'a', value: 5 }], TypeError, /ops\[0\]\.value must be/],
      ['missing value', [{ op: 'update', path: 'a' }], TypeError, /ops\[0\]\.value/],
      ['bad link target', [{ op: 'link', target: '', path: 'l' }], InvalidPathError, /ops\[0\]\.target/],
      ['bad options', [], TypeError, /options.atomic must be a boolean/]
    ])('%s', (_name, ops, Cls, pattern) => {
      const store = seeded()
      const before = store.stat().lastTxnId
      const options = _name === 'bad options' ? { atomic: 'yes' as any } : undefined
      for (const atomic of [true, false]) {
        expect(() => store.batch(ops as any, options ?? { atomic })).toThrow(Cls)
        expect(() => store.batch(ops as any, options ?? { atomic })).toThrow(pattern)
      }
      expect(store.stat().lastTxnId).toBe(before)
      expect(store.list('a')).toEqual([])
      store.close()
    })

    it('over limits.maxOps or maxBytes: TransactionTooLargeError', () => {
      const store = open(tmpDir(), { limits: { maxOps: 3, maxBytes: 100 } })
      const four = Array.from({ length: 4 }, (_, i) => ({ op: 'replace' as const, path: `k${i}`, value: 'v' }))
      expect(() => store.batch(four)).toThrow(TransactionTooLargeError)
      expect(() => store.batch(four, { atomic: false })).toThrow(TransactionTooLargeError)
      expect(() => store.batch([{ op: 'replace', path: 'k', value: 'x'.repeat(200) }])).toThrow(/maxBytes/)
      expect(store.stat().entries).toBe(0)
      store.close()
    })

    it('DuplicateKeyError names the path and both indexes', () => {
      const store = seeded()
      try {
        store.batch([{ op: 'group', path: 'g' }, { op: 'replace', path: 'x', value: '1' }, { op: 'link', target: 'x', path: 'g/' }])
        expect.unreachable()
      } catch (e: any) {
        expect(e.code).toBe('DUPLICATE_KEY')
        expect(e.path).toBe('g')
        expect(e.indexes).toEqual([0, 2])
      }
      store.close()
    })
  })
})

describe('batch input is read once, every element checked (issue #13)', () => {
  it('a hole in the ops array is a TypeError naming it, not a skipped op', () => {
    const store = seeded()
    // eslint-disable-next-line no-sparse-arrays
    const ops = [{ op: 'replace', path: 'a', value: '1' }, , { op: 'replace', path: 'b', value: '2' }] as any
    expect(() => store.batch(ops)).toThrow(/ops\[1\] must be an object, got undefined/)
    expect(store.exists('a')).toBe(false)
    store.close()
  })

  it('each field is read once: a getter cannot swap a checked value for an unchecked one', () => {
    const store = seeded()
    let reads = 0
    const op = { op: 'replace', path: 'v', get value () { return ++reads === 1 ? 'checked' : 42 } }
    expect(store.batch([op as any]).committed).toBe(1)
    expect(reads).toBe(1)
    expect(store.readString('v')).toBe('checked')
    store.close()
  })
})
