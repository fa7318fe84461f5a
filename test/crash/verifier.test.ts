/**
 * Negative controls: the consistency checks the crash suite relies on must
 * catch each kind of damage they claim to catch. Every case breaks a good
 * store in one way and expects verify.cjs to say so.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp'
import { V, W, isPrefix, lib, verify } from './lib/harness'

function goodStore (n = 5): string {
  const dir = tmpDir('verifier')
  const store = lib.open(dir)
  W.APIS.writeMessage(store, Array.from({ length: n }, (_, i) => i))
  store.close()
  return dir
}
function mutate (dir: string, fn: (txn: any) => void): void {
  const store = lib.open(dir)
  store.transactionSync(fn)
  store.close()
}
const keysOf = (seq: number): string[] => [...W.expectedEntries(seq).keys()]

describe('the crash suite\'s verifier catches what it claims to', () => {
  it('a good store passes, with every message complete', () => {
    const report = verify(goodStore(), { maxSeq: 10, acked: [0, 1, 2, 3, 4] })
    expect(report.problems).toEqual([])
    expect(report.complete).toEqual([0, 1, 2, 3, 4])
    expect(report.entries).toBe(5 * W.KEYS_PER_MESSAGE)
    expect(report.mdbStat.balanced).toBe(true)
    expect(report.mdbStat.entries.data).toBe(5 * W.KEYS_PER_MESSAGE)
  })

  it('a message missing one key is partial', () => {
    const dir = goodStore()
    mutate(dir, (t) => t.remove(`${W.message(2).path}/f7`))
    const report = verify(dir, { maxSeq: 10 })
    expect(report.partial).toEqual([2])
    expect(report.problems.join('\n')).toMatch(/message 2 is partial: 13\/14/)
  })

  it('an acknowledged message that is absent is reported missing', () => {
    const report = verify(goodStore(), { maxSeq: 10, acked: [4, 5] })
    expect(report.missingAcked).toEqual([5])
  })

  it('a lost message in the middle breaks the prefix and leaves a dangling prev link', () => {
    const dir = goodStore()
    mutate(dir, (t) => { for (const k of keysOf(2)) t.remove(k) })
    const report = verify(dir, { maxSeq: 10 })
    expect(isPrefix(report.complete)).toBe(false)
    expect(report.dangling).toBe(1)
    expect(report.problems.join('\n')).toMatch(/message 3 links to message 2, which is not complete/)
  })

  it('a link to nothing is dangling; a key of no message is unexplained', () => {
    const dir = goodStore()
    mutate(dir, (t) => { t.makeLink('nowhere', 'x'); t.write('junk/1', 'j') })
    const report = verify(dir, { maxSeq: 10, allowKey: (k: string) => k === 'x' })
    expect(report.dangling).toBe(1)
    expect(report.problems.join('\n')).toMatch(/dangling link x → nowhere/)
    expect(report.problems.join('\n')).toMatch(/unexplained key junk\/1/)
  })

  it('bytes changed inside data.mdb are caught by the raw walk (checksum)', () => {
    const dir = goodStore()
    const file = path.join(dir, 'data.mdb')
    const bytes = fs.readFileSync(file)
    const value = Buffer.from(W.fieldValue(3, 5))
    const at = value.indexOf('payload=') + 'payload='.length
    let hits = 0
    for (let i = bytes.indexOf(value); i >= 0; i = bytes.indexOf(value, i + 1)) {
      bytes[i + at] = bytes[i + at] === 0x30 ? 0x31 : 0x30 // another hex digit: same length, wrong checksum
      hits++
    }
    expect(hits).toBeGreaterThan(0)
    fs.writeFileSync(file, bytes)
    const report = verify(dir, { maxSeq: 10 })
    expect(report.partial).toEqual([3])
    expect(report.problems.join('\n')).toMatch(/msg\/[0-9a-f]{32}\/f5: checksum mismatch/)
    expect(report.problems.join('\n')).toMatch(/f5 reads wrong through the link|is partial/)
  })

  it('a truncated data file fails LMDB\'s view (check --deep) / the raw walk', () => {
    const dir = goodStore(40)
    const file = path.join(dir, 'data.mdb')
    const size = fs.statSync(file).size
    fs.truncateSync(file, Math.floor(size / 2 / 4096) * 4096)
    // LMDB's view only (children): the library in this process could take a SIGBUS on the short map.
    const report = V.verifyStore(dir, { maxSeq: 50 })
    expect(report.problems.length).toBeGreaterThan(0)
  })
})
