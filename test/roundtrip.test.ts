import { describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { open } from './helpers/lib'
import { tmpDir } from './helpers/tmp'
import { Child, ROOT } from './helpers/child'

describe('round trip', () => {
  it('10,000 messages written with begin…commit read back equal to an in-memory model', () => {
    const dir = tmpDir()
    const store = open(dir, { durability: 'nosync', mapSize: 1024 * 1024 })
    const model = new Map<string, Buffer>()
    const ids: string[] = []
    for (let m = 0; m < 10_000; m++) {
      const id = randomBytes(16).toString('hex')
      ids.push(id)
      const txn = store.begin()
      txn.makeGroup(`msg/${id}`)
      for (let f = 0; f < 10; f++) {
        const v = randomBytes(20 + (m + f) % 80)
        txn.write(`msg/${id}/f${f}`, v)
        model.set(`msg/${id}/f${f}`, v)
      }
      txn.makeLink(`msg/${id}`, `by-seq/${m}`)
      txn.commit()
    }
    store.close()
    const again = open(dir)
    expect(again.stat().entries).toBe(10_000 * 12)
    for (const [path, v] of model) expect(Buffer.compare(Buffer.from(again.read(path)!), v)).toBe(0)
    expect(again.list('msg')).toEqual([...ids].sort())
    for (let m = 0; m < 10_000; m += 997) {
      expect(again.resolve(`by-seq/${m}/f3`)).toBe(`msg/${ids[m]}/f3`)
      expect(again.list(`by-seq/${m}`)).toHaveLength(10)
    }
    again.close()
  })
})

describe('no partial messages across processes', () => {
  it('a reader polling list/read while another process writes 2,000 messages never sees a partial one', async () => {
    const dir = tmpDir()
    open(dir).close()
    const FIELDS = 10
    // Reader: polls continuously, counts complete/partial messages seen.
    const reader = new Child(`
      const { createHash } = require('node:crypto');
      const { open } = require(${JSON.stringify(ROOT)});
      const store = open(process.argv[1]);
      let polls = 0, partial = 0, complete = 0, stop = false, examples = [];
      const check = () => {
        for (const id of store.list('msg')) {
          const snap = store.snapshot();   // one consistent view per message check
          try {
            const fields = snap.list('msg/' + id);
            const ok = snap.type('msg/' + id) === 'group' && fields.length === ${FIELDS} &&
              fields.every((f) => snap.readString('msg/' + id + '/' + f) === createHash('sha256').update(id + f).digest('hex')) &&
              ['a', 'b', 'c'].every((l) => snap.resolve('link/' + l + '/' + id) === 'msg/' + id);
            if (ok) complete++; else { partial++; if (examples.length < 3) examples.push({ id, fields }) }
          } finally { snap.close() }
        }
        polls++;
      };
      const loop = () => { if (stop) return; check(); setImmediate(loop) };
      onCommand(({ cmd }) => { if (cmd === 'stop') { stop = true; check(); return { polls, partial, complete, examples } } });
      loop();
      reply({ ready: true });
    `, [dir])
    const writer = new Child(`
      const { createHash, randomBytes } = require('node:crypto');
      const { open } = require(${JSON.stringify(ROOT)});
      const store = open(process.argv[1], { durability: 'nosync' });
      onCommand(({ n }) => {
        for (let i = 0; i < n; i++) {
          const id = randomBytes(16).toString('hex');
          const fields = {};
          for (let f = 0; f < ${FIELDS}; f++) fields['f' + f] = createHash('sha256').update(id + 'f' + f).digest('hex');
          store.writeMessage({ path: 'msg/' + id, fields, links: ['a', 'b', 'c'].map((l) => ({ target: 'msg/' + id, path: 'link/' + l + '/' + id })) });
        }
        return { written: n };
      });
      reply({ ready: true });
    `, [dir])
    try {
      await reader.next()
      await writer.next()
      expect(await writer.send({ n: 2000 }, 60_000)).toEqual({ written: 2000 })
      const seen = await reader.send({ cmd: 'stop' }, 60_000)
      expect(seen.partial).toBe(0)
      expect(seen.examples).toEqual([])
      expect(seen.polls).toBeGreaterThan(1)
      // the final poll saw every message complete
      expect(seen.complete).toBeGreaterThanOrEqual(2000)
    } finally {
      await reader.close()
      await writer.close()
    }
    const store = open(dir)
    expect(store.list('msg')).toHaveLength(2000)
    expect(store.list('link/a')).toHaveLength(2000)
    store.close()
  })
})
