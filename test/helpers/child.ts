import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import * as path from 'node:path'

/** Package root: children require it, so they load dist/ like a user would. */
export const ROOT = path.join(__dirname, '..', '..')

/** Runs a CommonJS script in a fresh node process; returns stdout (throws on failure). */
export function runNode (script: string, args: string[] = [], timeoutMs = 30_000): string {
  const r = spawnSync(process.execPath, ['-e', script, '--', ...args], {
    cwd: ROOT, encoding: 'utf8', timeout: timeoutMs
  })
  if (r.status !== 0) throw new Error(`child failed (status ${r.status}, signal ${r.signal}):\n${r.stderr}`)
  return r.stdout
}

/**
 * A long-lived child speaking line-delimited JSON: send() a command, await
 * its reply. The script gets `reply(obj)` and receives commands via `onCommand`.
 */
export class Child {
  readonly proc: ChildProcess
  #buffer = ''
  #waiters: Array<(msg: any) => void> = []
  #unclaimed: any[] = []  // messages that arrived before anyone awaited them
  #stderr = ''

  constructor (script: string, args: string[] = []) {
    const prelude = `
      const readline = require('node:readline');
      const reply = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
      let handler = () => {};
      const onCommand = (fn) => { handler = fn };
      readline.createInterface({ input: process.stdin }).on('line', (line) => {
        try { const r = handler(JSON.parse(line)); if (r !== undefined) reply(r) }
        catch (e) { reply({ error: e.code || e.message, message: e.message }) }
      });
    `
    this.proc = spawn(process.execPath, ['-e', prelude + script, '--', ...args], {
      cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe']
    })
    this.proc.stdout!.setEncoding('utf8')
    this.proc.stdout!.on('data', (chunk: string) => {
      this.#buffer += chunk
      let nl
      while ((nl = this.#buffer.indexOf('\n')) >= 0) {
        const line = this.#buffer.slice(0, nl)
        this.#buffer = this.#buffer.slice(nl + 1)
        const w = this.#waiters.shift()
        if (w) w(JSON.parse(line))
        else this.#unclaimed.push(JSON.parse(line))
      }
    })
    this.proc.stderr!.on('data', (c) => { this.#stderr += c })
  }

  /** Next message from the child (e.g. a ready signal). */
  next (timeoutMs = 20_000): Promise<any> {
    if (this.#unclaimed.length > 0) return Promise.resolve(this.#unclaimed.shift())
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`child timed out; stderr: ${this.#stderr}`)), timeoutMs)
      this.#waiters.push((m) => { clearTimeout(t); resolve(m) })
    })
  }

  send (cmd: unknown, timeoutMs?: number): Promise<any> {
    const p = this.next(timeoutMs)
    this.proc.stdin!.write(JSON.stringify(cmd) + '\n')
    return p
  }

  async close (): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return // exited, or killed by a signal
    const done = new Promise((resolve) => this.proc.once('exit', resolve))
    this.proc.stdin!.end()
    this.proc.kill('SIGTERM')
    await done
  }
}
