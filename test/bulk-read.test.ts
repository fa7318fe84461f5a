// Whole-group reads (issue #17): readMessage, entries, iterate, readMany on
// every read surface (Store, Transaction with its own writes, Snapshot, the
// view of a store.transaction() callback).
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { spawnSync } from 'node:child_process'
import {
  open, InvalidPathError, KeyTooLongError, LinkLoopError, TransactionFinishedError,
  type Fields, type Message, type Readable, type Store
} from './helpers/lib'
import { tmpDir } from './helpers/tmp'
import { ROOT } from './helpers/child'

// Names that interleave bytewise with '/' ('-' and '.' sort before it, '0' after).
const name = fc.stringMatching(/^[ab\-.0~é]{1,3}$/).filter((s) => s !== '.' && s !== '..')
const value = fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.string({ maxLength: 20, unit: 'grapheme' }))
const { fields } = fc.letrec<{ fields: Fields }>((tie) => ({
  fields: fc.dictionary(name, fc.oneof({ depthSize: 'small', withCrossShrink: true }, value, value, tie('fields')), { maxKeys: 5 }) as fc.Arbitrary<Fields>
}))
const target = fc.array(name, { minLength: 1, maxLength: 3 }).map((s) => 'elsewhere/' + s.join('/'))

let counter = 0
/** A message at a fresh path; links sit in the group or a sub-group, under names no field uses. */
const message = fc.tuple(fields, fc.array(fc.tuple(fc.nat(), name, target), { maxLength: 4 })).map(([f, ls]) => {
  const path = `m/${++counter}`
  const groups: Array<[string, Fields]> = []
  const walk = (p: string, g: Fields): void => { groups.push([p, g]); for (const [k, v] of Object.entries(g)) if (typeof v === 'object' && !(v instanceof Uint8Array)) walk(`${p}/${k}`, v as Fields) }
  walk(path, f)
  const links: Array<{ target: string, path: string }> = []
  for (const [i, n, t] of ls) {
    const [gp, g] = groups[i % groups.length]
    const lp = `${gp}/${n}`
    if (Object.hasOwn(g, n) || links.some((l) => l.path === lp)) continue
    links.push({ target: t, path: lp })
  }
  return { path, fields: f, links } satisfies Message
})

/** What readMessage returns for m: binary values as Buffers, links bytewise. */
function expected (m: Message): unknown {
  const conv = (g: Fields): Fields => Object.fromEntries(Object.entries(g).map(([k, v]) =>
    [k, typeof v === 'string' ? Buffer.from(v) : v instanceof Uint8Array ? Buffer.from(v) : conv(v)]))
  return { path: m.path, fields: conv(m.fields), links: sortLinks(m.links ?? []) }
}
const sortLinks = (l: Array<{ target: string, path: string }>): Array<{ target: string, path: string }> =>
  [...l].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)))
const actual = (r: any): unknown => r === undefined ? r : { ...r, fields: toBuffers(r.fields), links: r.links }
const toBuffers = (g: Fields): Fields => Object.fromEntries(Object.entries(g).map(([k, v]) =>
  [k, v instanceof Uint8Array ? Buffer.from(v) : typeof v === 'string' ? v : toBuffers(v)]))

describe('readMessage: the inverse of writeMessage', () => {
  it('round-trips random messages on Store, Snapshot and a Transaction (own uncommitted writes)', () => {
    const store = open(tmpDir(), { durability: 'nosync' })
    fc.assert(fc.property(message, (m) => {
      // a transaction sees its own uncommitted message
      const txn = store.begin()
      try {
        txn.writeMessage(m)
        expect(actual(txn.readMessage(m.path))).toEqual(expected(m))
      } finally {
        txn.abort()
      }
      expect(store.readMessage(m.path)).toBeUndefined()
      store.writeMessage(m)
      expect(actual(store.readMessage(m.path))).toEqual(expected(m))
      const snap = store.snapshot()
      expect(actual(snap.readMessage(m.path))).toEqual(expected(m))
      snap.close()
    }), { numRuns: 150 })
    store.close()
  })

  it('round-trips in store.transaction() callbacks: a reading callback sees the earlier callbacks\' writes', async () => {
    const store = open(tmpDir(), { durability: 'nosync' })
    const ms = fc.sample(message, 40)
    const reads = ms.map((m) => {
      void store.transaction((t) => t.writeMessage(m))
      return store.transaction((t) => t.readMessage(m.path))
    })
    const got = await Promise.all(reads)
    got.forEach((r, i) => expect(actual(r)).toEqual(expected(ms[i])))
    // and its own writes, in the same callback
    const m = fc.sample(message, 1)[0]
    expect(actual(await store.transaction((t) => { t.writeMessage(m); return t.readMessage(m.path) }))).toEqual(expected(m))
    store.close()
  })

  it('utf8 encoding gives back string messages exactly', () => {
    const store = open(tmpDir(), { durability: 'nosync' })
    const strings = fc.letrec<{ f: Fields }>((tie) => ({ f: fc.dictionary(name, fc.oneof({ depthSize: 'small' }, fc.string(), tie('f')), { maxKeys: 4 }) as fc.Arbitrary<Fields> })).f
    fc.assert(fc.property(strings, (f) => {
      const m = { path: `s/${++counter}`, fields: f, links: [] }
      store.writeMessage(m)
      expect(store.readMessage(m.path, { encoding: 'utf8' })).toEqual(m)
    }), { numRuns: 60 })
    store.close()
  })

  it('values: one fresh ArrayBuffer per call holding exactly this call\'s values', () => {
    const store = open(tmpDir(), { durability: 'nosync' })
    store.writeMessage({ path: 'x', fields: { a: 'aa', b: new Uint8Array([1, 2, 3]), c: { d: 'dddd' } } })
    const r1 = store.readMessage('x')!
    const r2 = store.readMessage('x')!
    const a = r1.fields.a as Uint8Array
    expect(a.buffer).toBe((r1.fields.b as Uint8Array).buffer)
    expect(a.buffer.byteLength).toBe(2 + 3 + 4)
    expect(a.buffer).not.toBe((r2.fields.a as Uint8Array).buffer)
    a[0] = 0
    expect((r2.fields.a as Buffer).toString()).toBe('aa')
    expect(store.readString('x/a')).toBe('aa')
    store.close()
  })

  it('links: keep (default) returns them; follow reads their targets; loops are LinkLoopError', () => {
    const store = open(tmpDir(), { durability: 'nosync', maxLinkDepth: 4 })
    store.transactionSync((t) => {
      t.write('data/h1', 'one')
      t.makeGroup('data/g')
      t.write('data/g/x', 'gx')
      t.writeMessage({ path: 'msg', fields: { own: 'o' }, links: [{ target: 'data/h1', path: 'msg/v' }, { target: 'data/g', path: 'msg/g' }, { target: 'nowhere', path: 'msg/dangling' }] })
      t.makeLink('msg', 'alias')
      t.makeGroup('loop')
      t.makeLink('loop', 'loop/self')
    })
    expect(store.readMessage('msg', { encoding: 'utf8' })).toEqual({
      path: 'msg', fields: { own: 'o' }, links: [{ target: 'nowhere', path: 'msg/dangling' }, { target: 'data/g', path: 'msg/g' }, { target: 'data/h1', path: 'msg/v' }]
    })
    // a link at the path itself is followed (like list); path is the group's
    expect(store.readMessage('alias', { links: 'follow', encoding: 'utf8' })).toEqual({
      path: 'msg', fields: { own: 'o', v: 'one', g: { x: 'gx' } }, links: [{ target: 'nowhere', path: 'msg/dangling' }]
    })
    expect(() => store.readMessage('loop', { links: 'follow' })).toThrow(LinkLoopError)
    expect(store.readMessage('loop', { links: 'follow', depth: 3 })!.truncated).toEqual(['loop/self'])
    expect(store.readMessage('loop')).toEqual({ path: 'loop', fields: {}, links: [{ target: 'loop', path: 'loop/self' }] })
    store.close()
  })

  it('depth: deeper sub-groups are listed in truncated, not read', () => {
    const store = open(tmpDir(), { durability: 'nosync' })
    store.writeMessage({ path: 'd', fields: { a: '1', g: { b: '2', h: { c: '3' } } } })
    expect(store.readMessage('d', { depth: 1, encoding: 'utf8' })).toEqual({ path: 'd', fields: { a: '1' }, links: [], truncated: ['d/g'] })
    expect(store.readMessage('d', { depth: 2, encoding: 'utf8' })).toEqual({ path: 'd', fields: { a: '1', g: { b: '2' } }, links: [], truncated: ['d/g/h'] })
    expect(store.readMessage('d', { depth: 3, encoding: 'utf8' })).toEqual({ path: 'd', fields: { a: '1', g: { b: '2', h: { c: '3' } } }, links: [] })
    store.close()
  })

  it('entries under a value are not fields; an implicit parent holding values is an object', () => {
    const store = open(tmpDir(), { durability: 'nosync' })
    store.transactionSync((t) => {
      t.makeGroup('p')
      t.write('p/v', 'v')
      t.write('p/v/under', 'hidden')
      t.write('p/imp/x', 'x')
    })
    expect(store.readMessage('p', { encoding: 'utf8' })).toEqual({ path: 'p', fields: { v: 'v', imp: { x: 'x' } }, links: [] })
    store.close()
  })

  it('a missing path is undefined; a non-group is InvalidPathError; bad arguments throw before reading', () => {
    const store = open(tmpDir(), { durability: 'nosync' })
    store.transactionSync((t) => { t.write('v', 'x'); t.makeLink('v', 'l'); t.write('implicit/x', '1') })
    expect(store.readMessage('missing')).toBeUndefined()
    expect(store.readMessage('implicit')).toBeUndefined() // no entry of its own (exists() is false)
    expect(() => store.readMessage('v')).toThrow(InvalidPathError)
    expect(() => store.readMessage('l')).toThrow(/resolves to "v", a simple value, not a group/)
    expect(() => store.readMessage('')).toThrow(InvalidPathError)
    expect(() => store.readMessage('a/../b')).toThrow(InvalidPathError)
    expect(() => store.readMessage('x'.repeat(600))).toThrow(KeyTooLongError)
    expect(() => store.readMessage(1 as any)).toThrow(TypeError)
    expect(() => store.readMessage('v', { depth: 0 })).toThrow(/options.depth must be a positive integer/)
    expect(() => store.readMessage('v', { depth: 1.5 })).toThrow(RangeError)
    expect(() => store.readMessage('v', { links: 'yes' as any })).toThrow(/options.links must be 'keep' or 'follow'/)
    expect(() => store.readMessage('v', { encoding: 'hex' as any })).toThrow(/options.encoding/)
    expect(() => store.readMessage('v', { link: 'follow' } as any)).toThrow(/unknown option 'link'/)
    expect(() => store.readMessage('v', null as any)).toThrow(TypeError)
    const before = store.stat().lastTxnId
    expect(() => store.entries('v', { limit: -1 })).toThrow(RangeError)
    expect(() => store.entries('v', { values: 1 } as any)).toThrow(/options.values must be a boolean/)
    expect(() => store.entries('v', { after: 3 } as any)).toThrow(/options.after must be a string/)
    expect(() => store.readMany('v' as any)).toThrow(/paths must be an array/)
    expect(() => store.readMany(['v', 3 as any])).toThrow(/paths\[1\] must be a string/)
    expect(() => store.readMany(['v', 'a/./b'])).toThrow(InvalidPathError)
    expect(() => store.iterate(3 as any)).toThrow(/iterate\(\) expects a path or \{ prefix: string \}/)
    expect(() => store.iterate('a/../b')).toThrow(InvalidPathError)
    expect(() => store.iterate('v', { pageSize: 0 })).toThrow(/options.pageSize/)
    expect(() => store.iterate({ prefix: 'v', x: 1 } as any)).toThrow(TypeError)
    expect(store.stat().lastTxnId).toBe(before) // nothing written
    expect(store.stat().readers).toBe(1)        // no snapshot left open by a failed iterate()
    store.close()
  })

  it('a finished transaction refuses; a closed snapshot refuses', () => {
    const store = open(tmpDir(), { durability: 'nosync' })
    const txn = store.begin()
    txn.abort()
    expect(() => txn.readMessage('x')).toThrow(TransactionFinishedError)
    const snap = store.snapshot()
    snap.close()
    expect(() => snap.readMany(['x'])).toThrow(TransactionFinishedError)
    store.close()
  })
})

function fillGroup (store: Store, n: number): Map<string, string> {
  const kids = new Map<string, string>()
  store.transactionSync((t) => {
    t.makeGroup('big')
    for (let i = 0; i < n; i++) {
      const k = `k${String(i).padStart(5, '0')}`
      if (i % 7 === 3) { t.makeLink('target/' + i, `big/${k}`); kids.set(k, 'link') }
      else if (i % 11 === 5) { t.makeGroup(`big/${k}`); t.write(`big/${k}/inner`, 'i'); kids.set(k, 'group') }
      else if (i % 13 === 6) { t.write(`big/${k}/only-child`, 'c'); kids.set(k, 'implicit') }
      else { t.write(`big/${k}`, `value ${i}`); kids.set(k, 'simple') }
    }
  })
  return kids
}

/** list + type(follow: false) + read + readLink: what entries() must equal. */
function slowEntries (view: Readable, path: string, after?: string, limit?: number): Array<[string, unknown]> {
  return view.list(path, { after, limit }).map((n) => {
    const p = `${path}/${n}`
    const type = view.type(p, { follow: false })
    const info: Record<string, unknown> = { type }
    if (type === 'simple') info.value = view.read(p)
    if (type === 'link') info.target = view.readLink(p)
    return [n, info]
  })
}

describe('entries(path, { after, limit, values })', () => {
  it('pages equal list + read, on every surface', async () => {
    const store = open(tmpDir(), { durability: 'nosync' })
    fillGroup(store, 300)
    const txn = store.begin()
    txn.write('big/k00000', 'changed in txn')
    const snap = store.snapshot()
    for (const view of [store, txn, snap] as Readable[]) {
      const all: Array<[string, unknown]> = []
      let after: string | undefined
      for (;;) {
        const page = view.entries('big', { after, limit: 37 })
        expect(page).toEqual(slowEntries(view, 'big', after, 37))
        all.push(...page)
        if (page.length < 37) break
        after = page[page.length - 1][0]
      }
      expect(all).toEqual(slowEntries(view, 'big'))
      expect(all.length).toBe(300)
      expect(view.entries('big', { values: false }).every(([, i]) => !('value' in i))).toBe(true)
    }
    expect(txn.entries('big', { limit: 1, encoding: 'utf8' })[0][1].value).toBe('changed in txn')
    txn.abort()
    snap.close()
    expect(await store.transaction((t) => { t.write('big/k00001', 'cb'); return t.entries('big', { limit: 2, encoding: 'utf8' }) }))
      .toEqual([['k00000', { type: 'simple', value: 'value 0' }], ['k00001', { type: 'simple', value: 'cb' }]])
    store.close()
  })
})

describe('iterate()', () => {
  it('across many pages equals the full listing, and a commit between pages does not show', () => {
    const store = open(tmpDir(), { durability: 'nosync' })
    fillGroup(store, 1000)
    const full = store.entries('big')
    const seen: Array<[string, unknown]> = []
    let i = 0
    for (const e of store.iterate('big', { pageSize: 50 })) {
      seen.push(e)
      if (++i === 120) store.transactionSync((t) => { t.write('big/k00999', 'late'); t.write('big/zzz', 'new'); t.remove('big/k00500') })
    }
    expect(seen).toEqual(full)
    expect(store.entries('big').length).toBe(1000) // the commit did happen
    // prefix form: literal keys, no link followed
    const keys = [...store.iterate({ prefix: 'big/k0001' }, { pageSize: 3, values: false })].map(([k]) => k)
    expect(keys).toEqual(store.keys({ prefix: 'big/k0001' }))
    store.close()
  })

  it('on a Transaction reads the txn itself (its own writes); on a Snapshot its view', () => {
    const store = open(tmpDir(), { durability: 'nosync' })
    fillGroup(store, 30)
    const txn = store.begin()
    txn.write('big/new', 'n')
    expect([...txn.iterate('big', { pageSize: 4 })].map(([k]) => k)).toContain('new')
    const readers = store.stat().readers
    const it = txn.iterate('big', { pageSize: 1 })
    it.next()
    expect(store.stat().readers).toBe(readers) // no snapshot of its own
    txn.abort()
    expect(() => it.next()).toThrow(TransactionFinishedError)
    const snap = store.snapshot()
    store.transactionSync((t) => t.write('big/after-snap', '1'))
    expect([...snap.iterate('big')].map(([k]) => k)).not.toContain('after-snap')
    snap.close()
    store.close()
  })

  it('releases its reader when exhausted, on break and on throw; takes none before the first next()', () => {
    const store = open(tmpDir(), { durability: 'nosync' })
    fillGroup(store, 100)
    const base = store.stat().readers
    const lazy = store.iterate('big')
    expect(store.stat().readers).toBe(base)
    lazy.return()
    for (const _ of store.iterate('big', { pageSize: 10 })) void _
    expect(store.stat().readers).toBe(base)
    for (const _ of store.iterate('big', { pageSize: 10 })) { expect(store.stat().readers).toBe(base + 1); break }
    expect(store.stat().readers).toBe(base)
    expect(() => { for (const _ of store.iterate('big', { pageSize: 10 })) throw new Error('boom') }).toThrow('boom')
    expect(store.stat().readers).toBe(base)
    const it = store.iterate('big', { pageSize: 10 })
    it.next()
    expect(store.stat().readers).toBe(base + 1)
    expect(() => it.throw(new Error('x'))).toThrow('x')
    expect(store.stat().readers).toBe(base)
    store.close()
  })

  it('an abandoned iterator\'s reader is released when it is collected', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', `
      const { open } = require(${JSON.stringify(ROOT)})
      const store = open(process.argv[1], { durability: 'nosync' })
      store.transactionSync((t) => { for (let i = 0; i < 50; i++) t.write('g/' + i, 'v') })
      const base = store.stat().readers
      ;(() => { const it = store.iterate('g', { pageSize: 5 }); it.next() })()
      const held = store.stat().readers
      globalThis.gc()
      setTimeout(() => { globalThis.gc(); console.log(JSON.stringify([base, held, store.stat().readers])); store.close() }, 50)
    `, tmpDir()], { encoding: 'utf8', timeout: 30_000 })
    expect(r.stderr).toBe('')
    const [base, held, after] = JSON.parse(r.stdout)
    expect(held).toBe(base + 1)
    expect(after).toBe(base)
  })
})

describe('readMany(paths)', () => {
  it('values in order, undefined for missing/groups, duplicates each their own slice, links followed', async () => {
    const store = open(tmpDir(), { durability: 'nosync' })
    store.transactionSync((t) => { t.write('a', 'A'); t.write('b', new Uint8Array([1, 2])); t.makeGroup('g'); t.makeLink('a', 'l') })
    const got = store.readMany(['a', 'missing', 'b', 'a', 'g', 'l', '/a//'])
    expect(got.map((v) => v && Buffer.from(v).toString('hex'))).toEqual(['41', undefined, '0102', '41', undefined, '41', '41'])
    expect(got[0]).not.toBe(got[3])
    ;(got[0] as Uint8Array)[0] = 0
    expect(Buffer.from(got[3] as Uint8Array).toString()).toBe('A')
    expect(store.readMany([], { encoding: 'utf8' })).toEqual([])
    expect(store.readMany(['a', 'l'], { encoding: 'utf8' })).toEqual(['A', 'A'])
    const txn = store.begin()
    txn.write('a', 'txn')
    expect(txn.readMany(['a'], { encoding: 'utf8' })).toEqual(['txn'])
    txn.abort()
    void store.transaction((t) => t.write('c', 'C'))
    expect(await store.transaction((t) => t.readMany(['c', 'a'], { encoding: 'utf8' }))).toEqual(['C', 'A'])
    store.close()
  })
})
