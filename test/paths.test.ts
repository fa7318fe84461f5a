import { describe, expect, it } from 'vitest'
import { open, InvalidPathError, KeyTooLongError } from './helpers/lib'
import { tmpDir } from './helpers/tmp'

describe('path normalisation', () => {
  it('drops empty segments: /a//b/ and a/b are the same key', () => {
    const store = open(tmpDir())
    store.transactionSync((txn) => txn.write('/a//b/', 'v'))
    expect(store.readString('a/b')).toBe('v')
    expect(store.readString('a///b')).toBe('v')
    expect(store.list('a')).toEqual(['b'])
    store.close()
  })

  it.each([
    ['', 'empty'],
    ['///', 'empty'],
    ['a/./b', "'.'"],
    ['a/../b', "'..'"],
    ['..', "'..'"],
    ['a/b\0c', 'NUL']
  ])('rejects %j with InvalidPathError before touching the transaction', (bad, why) => {
    const store = open(tmpDir())
    const txn = store.begin()
    txn.write('ok', '1')
    expect(() => txn.write(bad, 'x')).toThrow(InvalidPathError)
    expect(() => txn.write(bad, 'x')).toThrow(why)
    expect(() => store.read(bad)).toThrow(InvalidPathError)
    expect(() => txn.makeLink(bad, 'l')).toThrow(/target/)
    expect(() => txn.makeLink('ok', bad)).toThrow(/path/)
    // the transaction is still usable and holds only the good write
    expect(txn.active).toBe(true)
    txn.commit()
    expect(store.stat().entries).toBe(1)
    store.close()
  })

  it('names the argument in TypeErrors for non-strings', () => {
    const store = open(tmpDir())
    const txn = store.begin()
    expect(() => txn.write(42 as any, 'x')).toThrow(TypeError)
    expect(() => txn.write(42 as any, 'x')).toThrow(/path must be a string/)
    expect(() => txn.makeLink(null as any, 'a')).toThrow(/target must be a string/)
    expect(() => txn.write('a', 42 as any)).toThrow(/value must be a Uint8Array or a string/)
    expect(() => txn.write('a', new Uint16Array(2) as any)).toThrow(TypeError)
    expect(() => txn.write('a', { a: 1 } as any)).toThrow(TypeError)
    txn.abort()
    store.close()
  })

  it('accepts exactly 511 UTF-8 bytes and rejects 512 with KeyTooLongError', () => {
    const store = open(tmpDir())
    const max = 'k/' + 'x'.repeat(509)
    const over = 'k/' + 'x'.repeat(510)
    store.transactionSync((txn) => txn.write(max, 'fits'))
    expect(store.readString(max)).toBe('fits')
    expect(() => store.transactionSync((txn) => txn.write(over, 'no'))).toThrow(KeyTooLongError)
    // multi-byte: 170 × 'é' (2 bytes) + 'k/' = 342 bytes fits; 256 × 'é' = 514 does not
    store.transactionSync((txn) => txn.write('k/' + 'é'.repeat(170), 'utf8'))
    expect(store.readString('k/' + 'é'.repeat(170))).toBe('utf8')
    expect(() => store.read('é'.repeat(256))).toThrow(KeyTooLongError)
    // slashes that normalise away do not count
    expect(store.readString('/'.repeat(3000) + max)).toBe('fits')
    store.close()
  })

  it('stores unicode and odd bytes in segments verbatim', () => {
    const store = open(tmpDir())
    const paths = ['ü/ñ', 'a b/c-d', 'x/ /y', 'e/\u0001', 'emoji/😀', 'q/...']
    store.transactionSync((txn) => paths.forEach((p, i) => txn.write(p, String(i))))
    paths.forEach((p, i) => expect(store.readString(p)).toBe(String(i)))
    store.close()
  })
})
