// Regressions for bugs found by review (sanitizers, valgrind, TSan) and the
// crash suite. Each scenario runs in its own process: the failure modes are
// aborts and hangs, which must not take the test runner down.
import { describe, expect, it } from 'vitest'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { spawnSync } from 'node:child_process'
import { open, LmdbError, TransactionTooLargeError } from './helpers/lib'
import { tmpDir } from './helpers/tmp'
import { ROOT } from './helpers/child'

function script (body: string, timeoutMs = 20_000): { status: number | null, signal: string | null, stdout: string, stderr: string } {
  const file = path.join(tmpDir('script'), 'main.js')
  fs.writeFileSync(file, `const { open } = require(${JSON.stringify(ROOT)});\n${body}`)
  const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: timeoutMs, cwd: path.dirname(file) })
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr }
}

describe('regressions', () => {
  it('a process and a worker exit cleanly with several unclosed stores that used transaction()', () => {
    const body = `
      const fs = require('node:fs'); const os = require('node:os'); const path = require('node:path');
      const { Worker, isMainThread } = require('node:worker_threads');
      async function run () {
        const a = open(fs.mkdtempSync(path.join(os.tmpdir(), 'lt-')));
        const b = open(fs.mkdtempSync(path.join(os.tmpdir(), 'lt-')));
        await a.transaction((t) => t.write('k', 'v'));
        await b.transaction((t) => t.write('k', 'v'));
        globalThis.keep = [a, b];
      }
      if (isMainThread) {
        run().then(() => new Promise((resolve) => new Worker(__filename).on('exit', resolve))).then((code) => console.log('worker exit ' + code));
      } else run();
    `
    const r = script(body)
    expect(r.signal).toBeNull()
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout.trim()).toBe('worker exit 0')
  })

  it('terminating a worker in the middle of reads and writes does not abort the process', () => {
    const r = script(`
      const fs = require('node:fs'); const os = require('node:os'); const path = require('node:path');
      const { Worker, isMainThread, workerData } = require('node:worker_threads');
      if (isMainThread) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lt-'));
        let left = 6;
        const spawn = () => {
          const w = new Worker(__filename, { workerData: dir });
          setTimeout(() => w.terminate(), 30 + Math.random() * 40);
          w.on('exit', () => { if (--left > 0) spawn(); else console.log('done') });
        };
        spawn();
      } else {
        const s = open(workerData);
        s.transaction((t) => t.write('g', '1')).then(() => {
          for (;;) { s.read('a'); const t = s.begin(); t.write('a', 'x'); t.commit(); s.list('a') }
        });
      }
    `)
    expect(r.signal).toBeNull()
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout.trim()).toBe('done')
  })

  it('transaction() called inside a transaction() callback runs in a later batch instead of deadlocking', async () => {
    const store = open(tmpDir())
    let inner: Promise<string> | undefined
    const outer = await store.transaction((txn) => {
      txn.write('a', '1')
      inner = store.transaction((t) => { t.write('b', t.readString('a') ?? 'missing'); return 'inner' })
      return 'outer'
    })
    expect(outer).toBe('outer')
    expect(await inner).toBe('inner')
    expect(store.readString('b')).toBe('1')
    store.close()
  })

  it('a savepoint that crosses limits inside transaction() rejects that callback and frees the writer lock', async () => {
    const store = open(tmpDir(), { limits: { maxOps: 2 } })
    const outcome = await store.transaction((txn) => {
      txn.transaction((t) => { try { t.write('a', '1'); t.write('b', '1'); t.write('c', '1') } catch { /* swallowed */ } })
    }).then(() => 'resolved', (e) => e)
    expect(outcome).toBeInstanceOf(TransactionTooLargeError)
    await store.transaction((t) => t.write('next', '1'))
    const other = script(`const s = open(${JSON.stringify(store.path)}); const t = s.begin(); t.write('x', '1'); t.commit(); console.log('got the lock')`, 10_000)
    expect(other.stdout.trim()).toBe('got the lock')
    expect(store.readString('next')).toBe('1')
    expect(store.exists('a')).toBe(false)
    store.close()
  })

  it('threads racing for the writer lock always get TransactionBusyError for a second begin(), never a self-deadlock', () => {
    const r = script(`
      const fs = require('node:fs'); const os = require('node:os'); const path = require('node:path');
      const { Worker, isMainThread, workerData, parentPort } = require('node:worker_threads');
      if (isMainThread) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lt-')); open(dir).close();
        const counts = [];
        const ws = [0, 1, 2].map(() => new Worker(__filename, { workerData: dir }));
        ws.forEach((w) => w.on('message', (m) => counts.push(m)));
        Promise.all(ws.map((w) => new Promise((r) => w.on('exit', r)))).then(() => console.log(JSON.stringify(counts)));
      } else {
        const s = open(workerData, { durability: 'nosync' });
        let busy = 0;
        for (let i = 0; i < 3000; i++) {
          const t = s.begin();
          try { s.begin().abort() } catch (e) { if (e.code === 'TRANSACTION_BUSY') busy++; else throw e }
          t.write('k', String(i)); t.commit();
        }
        parentPort.postMessage(busy); s.close();
      }
    `, 60_000)
    expect(r.signal).toBeNull()
    expect(r.status, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual([3000, 3000, 3000])
  })

  it('the process exits while its main thread holds begin() and a worker waits for the writer lock', () => {
    const r = script(`
      const fs = require('node:fs'); const os = require('node:os'); const path = require('node:path');
      const { Worker, isMainThread, workerData, parentPort } = require('node:worker_threads');
      if (isMainThread) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lt-'));
        const s = open(dir);
        globalThis.txn = s.begin();
        globalThis.txn.write('main', '1');
        const w = new Worker(__filename, { workerData: dir });
        w.on('message', () => { console.log('worker waiting'); setTimeout(() => process.exit(0), 50) });
      } else {
        const s = open(workerData);
        parentPort.postMessage('ready');
        s.transactionSync((t) => t.write('worker', '1')); // blocks on the main thread's lock
      }
    `, 15_000)
    expect(r.signal, 'hung at exit').toBeNull()
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout.trim()).toBe('worker waiting')
  })

  it('a long raw path whose stack-buffer copy would split a multi-byte character is read whole', () => {
    const store = open(tmpDir())
    store.transactionSync((t) => t.write('/'.repeat(2044) + 'ab€', 'value'))
    expect(store.keys()).toEqual(['ab€'])
    expect(store.readString('ab€')).toBe('value')
    store.close()
  })

  it('a truncated data file is refused with LmdbError MDB_CORRUPTED instead of SIGBUS', () => {
    const dir = tmpDir()
    const store = open(dir)
    store.transactionSync((t) => { for (let i = 0; i < 2000; i++) t.write(`k/${i}`, Buffer.alloc(500)) })
    store.close()
    fs.truncateSync(path.join(dir, 'data.mdb'), 128 * 1024)
    let err: any
    try { open(dir) } catch (e) { err = e }
    expect(err).toBeInstanceOf(LmdbError)
    expect(err.lmdbCode).toBe('MDB_CORRUPTED')
    expect(err.message).toMatch(/truncated/)
  })

  it('a directory path with a NUL byte is a TypeError', () => {
    expect(() => open(tmpDir() + '\0junk')).toThrow(/NUL/)
  })
})
