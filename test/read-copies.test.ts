// read() values own their memory (SPEC §3: "a copy, owned by JS"), and
// readInto() copies into the caller's buffer (issue #13, item 14).
import { describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { open, type Readable, type Store } from './helpers/lib'
import { tmpDir } from './helpers/tmp'

// 0 and 64 bytes (V8 keeps tiny typed arrays on its heap), a typical value,
// page-sized, and past the addon's 64 KiB shared read buffer.
const SIZES = [0, 1, 64, 65, 100, 4096, 65536, 70000]

function fill (store: Store): Map<string, Buffer> {
  const values = new Map(SIZES.map((n) => [`v/${n}`, randomBytes(n)]))
  store.transactionSync((t) => {
    for (const [k, v] of values) t.write(k, v)
    t.makeGroup('g')
    t.makeLink('v/100', 'l')
  })
  return values
}

function views (store: Store): Array<[string, Readable, () => void]> {
  const txn = store.begin()
  const snap = store.snapshot()
  return [['store', store, () => {}], ['transaction', txn, () => txn.abort()], ['snapshot', snap, () => snap.close()]]
}

describe('read() returns a copy with its own backing store', () => {
  it('value.buffer holds exactly the value, on every view and size', () => {
    const store = open(tmpDir(), { durability: 'nosync' })
    const values = fill(store)
    for (const [name, view, done] of views(store)) {
      const seen = new Set<ArrayBufferLike>()
      for (const [k, v] of values) {
        const got = view.read(k)!
        expect(Buffer.isBuffer(got), `${name} ${k}`).toBe(true)
        expect(got.byteOffset, `${name} ${k}`).toBe(0)
        expect(got.buffer.byteLength, `${name} ${k}`).toBe(v.length)
        expect(Buffer.from(new Uint8Array(got.buffer)).equals(v), `${name} ${k}`).toBe(true)
        expect(seen.has(got.buffer), `${name} ${k}`).toBe(false)
        seen.add(got.buffer)
      }
      // two reads of one key share nothing either
      const a = view.read('v/100')!
      const b = view.read('l')!
      expect(a.buffer).not.toBe(b.buffer)
      a[0] ^= 0xff
      expect(b[0]).not.toBe(a[0])
      done()
    }
    store.close()
  })
})

describe('readInto(path, target)', () => {
  it('copies a value that fits and returns its length; copies nothing when it does not fit', () => {
    const store = open(tmpDir(), { durability: 'nosync' })
    const values = fill(store)
    for (const [name, view, done] of views(store)) {
      const target = new Uint8Array(70000 + 8)
      for (const [k, v] of values) {
        target.fill(0xee)
        expect(view.readInto(k, target), `${name} ${k}`).toBe(v.length)
        expect(Buffer.from(target.subarray(0, v.length)).equals(v), `${name} ${k}`).toBe(true)
        expect(target[v.length], `${name} ${k}: bytes past the value are untouched`).toBe(0xee)
      }
      // a view with an offset: bytes land at its start
      const inner = new Uint8Array(target.buffer, 3, 200)
      expect(view.readInto('l', inner)).toBe(100)
      expect(Buffer.from(target.subarray(3, 103)).equals(values.get('v/100')!)).toBe(true)
      // too small: the length comes back, nothing is written
      const small = new Uint8Array(99).fill(7)
      expect(view.readInto('v/100', small)).toBe(100)
      expect(small.every((b) => b === 7)).toBe(true)
      expect(view.readInto('missing', small)).toBeUndefined()
      expect(view.readInto('g', small)).toBeUndefined()
      expect(() => view.readInto('v/1', [0] as any)).toThrow(TypeError)
      expect(() => view.readInto('v/1', new Uint16Array(4) as any)).toThrow(TypeError)
      expect(() => view.readInto(1 as any, small)).toThrow(TypeError)
      done()
    }
    store.close()
  })
})
