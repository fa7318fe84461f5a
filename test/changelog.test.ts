import { describe, expect, it } from 'vitest'
import { applyChange, open, type Store } from './helpers/lib'
import { tmpDir } from './helpers/tmp'
import { Child, ROOT } from './helpers/child'
import { entries } from './helpers/sync'

const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s))
const opsOf = (store: Store): unknown[] => store.changes().map((c) => c.ops.map((o) => 'value' in o ? { ...o, value: Buffer.from(o.value).toString() } : o))

describe('change log: one record per logical transaction', () => {
  it('is off by default: commit() returns undefined and nothing is recorded', () => {
    const store = open(tmpDir())
    try {
      const txn = store.begin()
      txn.write('a', 'x')
      expect(txn.commit()).toBeUndefined()
      expect(store.changes()).toEqual([])
      expect(store.stat().changeLog).toBeUndefined()
    } finally { store.close() }
  })

  it('begin…commit: ops normalised, in call order, without what a savepoint undid; commit() returns the seq', () => {
    const store = open(tmpDir(), { changeLog: true })
    try {
      const txn = store.begin()
      txn.makeGroup('/msg//a/')
      txn.write('msg/a/body', 'hello')
      expect(() => txn.transaction((t) => { t.write('msg/a/undone', 'x'); throw new Error('undo') })).toThrow('undo')
      txn.transaction((t) => { t.write('msg/a/kept', bytes('k')) })
      txn.makeLink('msg/a/', 'by-hash//h1')
      txn.remove('old', { recursive: true })
      txn.remove('older')
      expect(txn.commit()).toBe(1)
      expect(opsOf(store)).toEqual([[
        { op: 'group', path: 'msg/a' },
        { op: 'write', path: 'msg/a/body', value: 'hello' },
        { op: 'write', path: 'msg/a/kept', value: 'k' },
        { op: 'link', path: 'by-hash/h1', target: 'msg/a' },
        { op: 'remove', path: 'old', recursive: true },
        { op: 'remove', path: 'older', recursive: false }
      ]])
      const [c] = store.changes()
      expect(c.seq).toBe(1)
      expect(Math.abs(c.time - Date.now())).toBeLessThan(60_000)
      expect(c.ops[1]).toMatchObject({ value: expect.any(Uint8Array) })
    } finally { store.close() }
  })

  it('empty transactions record nothing: no ops, only undone ops, aborted, a thrown callback', () => {
    const store = open(tmpDir(), { changeLog: true })
    try {
      expect(store.begin().commit()).toBeUndefined()
      const undone = store.begin()
      try { undone.transaction((t) => { t.write('x', 'y'); throw new Error('no') }) } catch {}
      expect(undone.commit()).toBeUndefined()
      const aborted = store.begin()
      aborted.write('x', 'y')
      aborted.abort()
      expect(() => store.transactionSync((t) => { t.write('x', 'y'); throw new Error('boom') })).toThrow('boom')
      store.transactionSync(() => {})
      expect(store.changes()).toEqual([])
      expect(store.stat().changeLog).toEqual({ first: 1, last: 0, count: 0 })
    } finally { store.close() }
  })

  it('transactionSync, writeMessage, atomic batch, the committed prefix of a non-atomic batch', () => {
    const store = open(tmpDir(), { changeLog: true })
    try {
      store.transactionSync((t) => { t.write('a', '1'); t.write('b', '2') })
      store.writeMessage({ path: 'm', fields: { f: 'v', sub: { g: bytes('w') } }, links: [{ target: 'm', path: 'l' }] })
      store.batch([{ op: 'insert', path: 'c', value: '3' }, { op: 'remove', path: 'a' }])
      expect(() => store.batch([{ op: 'insert', path: 'd', value: '4' }, { op: 'insert', path: 'c', value: 'dup' }])).toThrow()
      expect(() => store.batch([{ op: 'replace', path: 'e', value: '5' }, { op: 'update', path: 'missing', value: 'x' }, { op: 'group', path: 'z' }], { atomic: false })).toThrow()
      expect(() => store.batch([{ op: 'update', path: 'missing', value: 'x' }], { atomic: false })).toThrow()
      expect(opsOf(store)).toEqual([
        [{ op: 'write', path: 'a', value: '1' }, { op: 'write', path: 'b', value: '2' }],
        [{ op: 'group', path: 'm' }, { op: 'write', path: 'm/f', value: 'v' }, { op: 'group', path: 'm/sub' },
          { op: 'write', path: 'm/sub/g', value: 'w' }, { op: 'link', path: 'l', target: 'm' }],
        [{ op: 'write', path: 'c', value: '3' }, { op: 'remove', path: 'a', recursive: false }],
        [{ op: 'write', path: 'e', value: '5' }]
      ])
      expect(store.changes().map((c) => c.seq)).toEqual([1, 2, 3, 4])
    } finally { store.close() }
  })

  it('store.transaction(): each callback its own record, in call order; a throwing or empty one records nothing', async () => {
    const store = open(tmpDir(), { changeLog: true })
    try {
      const results = await Promise.allSettled([
        store.transaction((t) => { t.write('g/1', 'a') }),
        store.transaction((t) => { t.write('g/2', 'b'); throw new Error('no') }),
        store.transaction(() => 'empty'),
        store.transaction((t) => { t.write('g/3', 'c'); try { t.transaction((u) => { u.write('g/undone', 'x'); throw new Error('u') }) } catch {} ; t.remove('g/1') })
      ])
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled'])
      expect(opsOf(store)).toEqual([
        [{ op: 'write', path: 'g/1', value: 'a' }],
        [{ op: 'write', path: 'g/3', value: 'c' }, { op: 'remove', path: 'g/1', recursive: false }]
      ])
      expect(store.changes().map((c) => c.seq)).toEqual([1, 2])
    } finally { store.close() }
  })

  it('changes({ after, limit }), trimChanges (seqs never restart), stat().changeLog; the log stays on when reopened without the option', () => {
    const dir = tmpDir()
    let store = open(dir, { changeLog: true })
    for (let i = 0; i < 5; i++) store.transactionSync((t) => t.write(`k${i}`, `${i}`))
    expect(store.changes({ after: 2, limit: 2 }).map((c) => c.seq)).toEqual([3, 4])
    expect(store.trimChanges(3)).toBe(3)
    expect(store.trimChanges(2)).toBe(0)
    expect(store.stat().changeLog).toEqual({ first: 4, last: 5, count: 2 })
    expect(store.trimChanges(99)).toBe(2)
    expect(store.stat().changeLog).toEqual({ first: 6, last: 5, count: 0 })
    expect(() => store.trimChanges(-1)).toThrow(RangeError)
    expect(() => store.changes({ after: 1.5 })).toThrow(RangeError)
    store.close()
    store = open(dir)
    try {
      const txn = store.begin()
      txn.write('after-reopen', 'x')
      expect(txn.commit()).toBe(6)
      expect(store.changes().map((c) => c.seq)).toEqual([6])
      expect(store.stat().storeId).toMatch(/^[0-9a-f]{32}$/)
    } finally { store.close() }
  })

  it('a seeded random workload replayed from changes() onto an empty store equals the primary entry for entry, byte for byte', async () => {
    let seed = 1414 // mulberry32
    const rnd = (n: number): number => {
      seed = (seed + 0x6D2B79F5) | 0
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
      return (((t ^ (t >>> 14)) >>> 0) % n)
    }
    const primary = open(tmpDir('primary'), { changeLog: true })
    const copy = open(tmpDir('copy'))
    try {
      const path = (): string => `p${rnd(12)}/${rnd(12)}${rnd(3) === 0 ? `/${rnd(4)}` : ''}`
      const value = (): Uint8Array => { const b = new Uint8Array(rnd(40)); for (let i = 0; i < b.length; i++) b[i] = rnd(256); return b }
      const mutate = (t: any): void => {
        for (let n = 1 + rnd(5); n > 0; n--) {
          const k = rnd(10)
          if (k < 4) t.write(path(), value())
          else if (k < 5) t.makeGroup(path())
          else if (k < 6) t.makeLink(path(), path())
          else if (k < 7) t.remove(path(), { recursive: rnd(2) === 0 })
          else if (k < 9) { try { t.transaction((s: any) => { s.write(path(), value()); if (rnd(2) === 0) throw new Error('undo') }) } catch {} }
          else t.writeMessage({ path: path(), fields: { a: value(), b: { c: 'x' } } })
        }
      }
      for (let i = 0; i < 300; i++) {
        const form = rnd(5)
        if (form === 0) { const t = primary.begin(); mutate(t); if (rnd(8) === 0) t.abort(); else t.commit() }
        else if (form === 1) primary.transactionSync(mutate)
        else if (form === 2) { try { primary.batch([{ op: 'replace', path: `b/${i}`, value: value() }, { op: rnd(2) === 0 ? 'insert' : 'replace', path: path(), value: 'v' }], { atomic: rnd(2) === 0 }) } catch {} }
        else await Promise.allSettled([primary.transaction(mutate), primary.transaction((t) => { mutate(t); if (rnd(4) === 0) throw new Error('x') })])
      }
      const changes = primary.changes()
      expect(changes.length).toBeGreaterThan(150)
      expect(changes.map((c) => c.seq)).toEqual(changes.map((_, i) => i + 1))
      for (const change of changes) copy.transactionSync((t) => applyChange(t, change))
      const want = entries(primary)
      expect(want.length).toBeGreaterThan(50)
      expect(entries(copy)).toEqual(want)
    } finally { primary.close(); copy.close() }
  })
})

const WRITER = `
  const { open } = require(${JSON.stringify(ROOT)});
  const store = open(process.argv[1], { changeLog: true });
  const who = process.argv[2], n = Number(process.argv[3]);
  (async () => {
    const seqs = [];
    for (let i = 0; i < n; i++) {
      if (i % 2) { const t = store.begin(); t.write(who + '/' + i, who); seqs.push(t.commit()) }
      else await store.transaction((t) => t.write(who + '/' + i, who));
    }
    reply({ done: true, seqs: seqs.length });
    store.close();
  })();
`

describe('change log across processes', () => {
  it('two processes writing one store get gap-free, increasing seqs, one record per transaction', async () => {
    const dir = tmpDir()
    open(dir, { changeLog: true }).close()
    const n = 150
    const a = new Child(WRITER, [dir, 'A', String(n)])
    const b = new Child(WRITER, [dir, 'B', String(n)])
    try {
      expect((await a.next()).done).toBe(true)
      expect((await b.next()).done).toBe(true)
    } finally { await a.close(); await b.close() }
    const store = open(dir)
    try {
      const changes = store.changes()
      expect(changes.map((c) => c.seq)).toEqual(Array.from({ length: 2 * n }, (_, i) => i + 1))
      const by = (w: string): string[] => changes.filter((c) => c.ops[0].path.startsWith(w + '/')).map((c) => c.ops[0].path)
      expect(by('A')).toEqual(Array.from({ length: n }, (_, i) => `A/${i}`))
      expect(by('B')).toEqual(Array.from({ length: n }, (_, i) => `B/${i}`))
    } finally { store.close() }
  })

  it('watch() wakes at once for this process, soon for another process, and ends cleanly on break and on abort', async () => {
    const dir = tmpDir()
    const store = open(dir, { changeLog: true })
    store.transactionSync((t) => t.write('before', 'x'))
    try {
      // from the start, then live
      const seen: number[] = []
      const it = store.watch({ after: 0 })
      const done = (async () => { for await (const c of it) { seen.push(c.seq); if (c.seq === 3) break } })()
      store.transactionSync((t) => t.write('a', 'x'))
      await store.transaction((t) => t.write('b', 'x'))
      await done
      expect(seen).toEqual([1, 2, 3])

      // another process's commit
      const ac = new AbortController()
      const got: Array<{ seq: number, at: number }> = []
      const watching = (async () => { for await (const c of store.watch({ signal: ac.signal })) got.push({ seq: c.seq, at: Date.now() }) })()
      const other = new Child(`
        const { open } = require(${JSON.stringify(ROOT)});
        const store = open(process.argv[1]);
        onCommand(() => { const t = store.begin(); t.write('other', 'y'); const seq = t.commit(); return { seq, at: Date.now() } });
        reply({ ready: true });
      `, [dir])
      try {
        await other.next()
        const r = await other.send({})
        expect(r.seq).toBe(4)
        for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
        expect(got.map((g) => g.seq)).toEqual([4])
      } finally { await other.close() }
      ac.abort()
      await watching // ends without throwing
      await expect(store.watch({ signal: 'x' as any }).next()).rejects.toThrow(TypeError)
    } finally { store.close() }
  })
})
