import { describe, expect, it } from 'vitest'
import { Worker } from 'node:worker_threads'
import { open } from './helpers/lib'
import { tmpDir } from './helpers/tmp'
import { Child, ROOT, runNode } from './helpers/child'

// A reader in another process: answers { msg } with what it sees of a message.
const READER = `
  const { open } = require(${JSON.stringify(ROOT)});
  const store = open(process.argv[1]);
  onCommand(({ id }) => {
    const base = 'msg/' + id;
    const fields = store.list(base);
    return {
      type: store.type(base) ?? null,
      fields,
      values: fields.map((f) => store.readString(base + '/' + f) ?? null),
      link: store.resolve('by-hash/' + id),
      linkType: store.type('by-hash/' + id) ?? null
    };
  });
  reply({ ready: true });
`

describe('cross-process visibility', () => {
  it('a begin…commit message is invisible to another process until commit, then whole; an aborted one never', async () => {
    const dir = tmpDir()
    const store = open(dir)
    const reader = new Child(READER, [dir])
    try {
      expect(await reader.next()).toEqual({ ready: true })
      const txn = store.begin()
      txn.makeGroup('msg/abc')
      for (let i = 0; i < 10; i++) txn.write(`msg/abc/f${i}`, `value-${i}`)
      txn.makeLink('msg/abc', 'by-hash/abc')
      // mid-transaction: nothing at all
      let seen = await reader.send({ id: 'abc' })
      expect(seen).toEqual({ type: null, fields: [], values: [], link: 'by-hash/abc', linkType: null })
      txn.commit()
      seen = await reader.send({ id: 'abc' })
      expect(seen.type).toBe('group')
      expect(seen.fields).toHaveLength(10)
      expect(seen.values).toEqual(seen.fields.map((f: string) => `value-${f.slice(1)}`))
      expect(seen.link).toBe('msg/abc')
      expect(seen.linkType).toBe('group')

      const aborted = store.begin()
      aborted.makeGroup('msg/def')
      aborted.write('msg/def/f0', 'x')
      aborted.makeLink('msg/def', 'by-hash/def')
      expect((await reader.send({ id: 'def' })).type).toBeNull()
      aborted.abort()
      expect(await reader.send({ id: 'def' })).toEqual({ type: null, fields: [], values: [], link: 'by-hash/def', linkType: null })
    } finally {
      await reader.close()
      store.close()
    }
  })

  it('a second process that writes while we hold the transaction waits for the lock, then succeeds', async () => {
    const dir = tmpDir()
    const store = open(dir)
    const writer = new Child(`
      const { open } = require(${JSON.stringify(ROOT)});
      const store = open(process.argv[1]);
      onCommand(({ path }) => {
        const t0 = Date.now();
        store.transactionSync((txn) => {
          txn.write(path, 'from child, saw first=' + (txn.readString('first') ?? 'nothing'));
        });
        return { done: true, waitedMs: Date.now() - t0 };
      });
      reply({ ready: true });
    `, [dir])
    try {
      await writer.next()
      const txn = store.begin()
      txn.write('first', 'parent')
      const pending = writer.send({ path: 'second' })
      // the child is blocked on LMDB's writer lock: it cannot answer yet
      const raced = await Promise.race([pending.then(() => 'answered'), new Promise((r) => setTimeout(() => r('blocked'), 300))])
      expect(raced).toBe('blocked')
      txn.commit()
      const result = await pending
      expect(result.done).toBe(true)
      expect(store.readString('second')).toBe('from child, saw first=parent')
    } finally {
      await writer.close()
      store.close()
    }
  })

  it('a process that exits (or is killed) holding a begin() never leaves the writer lock held', () => {
    const dir = tmpDir()
    open(dir).close()
    for (const ending of ['process.exit(0)', "process.kill(process.pid, 'SIGKILL')", 'undefined']) {
      try {
        runNode(`
          const { open } = require(${JSON.stringify(ROOT)});
          const store = open(process.argv[1]);
          store.transactionSync((t) => t.write('committed', 'yes'));
          const txn = store.begin();
          txn.write('uncommitted', 'no');
          ${ending};
        `, [dir], 10_000)
      } catch (e) {
        if (!String(e).includes('SIGKILL')) throw e
      }
      const store = open(dir)
      const txn = store.begin() // would hang forever if the lock were leaked
      txn.write('after', ending)
      txn.commit()
      expect(store.readString('committed')).toBe('yes')
      expect(store.exists('uncommitted')).toBe(false)
      store.close()
    }
  })
})

describe('worker threads', () => {
  it('two workers writing to one store are serialized and lose nothing', async () => {
    const dir = tmpDir()
    const store = open(dir)
    const script = `
      const { workerData, parentPort } = require('node:worker_threads');
      const { open } = require(${JSON.stringify(ROOT)});
      const store = open(workerData.dir);
      for (let i = 0; i < workerData.n; i++) {
        const txn = store.begin();
        const count = Number(txn.readString('counter') ?? '0');
        txn.write('counter', String(count + 1));
        txn.write('w' + workerData.id + '/' + i, String(i));
        txn.commit();
      }
      store.close();
      parentPort.postMessage('done');
    `
    const n = 300
    const run = (id: number): Promise<void> => new Promise((resolve, reject) => {
      const w = new Worker(script, { eval: true, workerData: { dir, id, n } })
      w.once('message', () => resolve())
      w.once('error', reject)
    })
    await Promise.all([run(1), run(2)])
    // read-modify-write under the writer lock: no increment lost
    expect(store.readString('counter')).toBe(String(2 * n))
    expect(store.list('w1')).toHaveLength(n)
    expect(store.list('w2')).toHaveLength(n)
    store.close()
  })

  it('a worker that exits with a transaction open releases the writer lock', async () => {
    const dir = tmpDir()
    const store = open(dir)
    const script = `
      const { workerData, parentPort } = require('node:worker_threads');
      const { open } = require(${JSON.stringify(ROOT)});
      const store = open(workerData.dir);
      const txn = store.begin();
      txn.write('from-worker', 'never committed');
      parentPort.postMessage('holding');
      setTimeout(() => process.exit(0), 50); // exits the worker, not the process
    `
    await new Promise<void>((resolve, reject) => {
      const w = new Worker(script, { eval: true, workerData: { dir } })
      w.once('error', reject)
      w.once('exit', () => resolve())
    })
    const txn = store.begin() // blocks forever if the worker's txn leaked
    txn.write('main', '1')
    txn.commit()
    expect(store.exists('from-worker')).toBe(false)
    expect(store.readString('main')).toBe('1')
    store.close()
  })
})

describe('reader slots', () => {
  it('a process killed holding a snapshot leaves a stale reader slot that the next open() clears', async () => {
    const dir = tmpDir()
    const store = open(dir)
    store.transactionSync((t) => t.write('a', '1'))
    const baseline = store.stat().readers
    const child = new Child(`
      const { open } = require(${JSON.stringify(ROOT)});
      const store = open(process.argv[1]);
      globalThis.snap = store.snapshot();
      reply({ readers: store.stat().readers });
    `, [dir])
    const { readers } = await child.next()
    expect(readers).toBe(baseline + 1 + 1) // the child's store read txn slot + its snapshot
    child.proc.kill('SIGKILL')
    await new Promise((r) => child.proc.once('exit', r))
    expect(store.stat().readers).toBe(baseline + 2) // still marked: the pid is dead, the slot is not free yet
    open(dir).close()                                // open() runs mdb_reader_check
    expect(store.stat().readers).toBe(baseline)
    store.close()
  })
})
