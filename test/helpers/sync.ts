import { spawn, type ChildProcess } from 'node:child_process'
import * as net from 'node:net'
import * as path from 'node:path'
import type { Store } from './lib'
import { ROOT } from './child'

/** Every literal entry of a store: [key, type, value hex or target], bytewise. */
export function entries (store: Store): Array<[string, string, string]> {
  const out: Array<[string, string, string]> = []
  let after: string | undefined
  for (;;) {
    const page = store.keys({ after, limit: 1000 })
    if (page.length === 0) return out
    for (const key of page) {
      const type = store.type(key, { follow: false })!
      const v = type === 'simple' ? Buffer.from(store.read(key)!).toString('hex') : type === 'link' ? store.readLink(key)! : ''
      out.push([key, type, v])
    }
    after = page[page.length - 1]
  }
}

/** `lmdb-txn serve` in its own process; resolves once it listens. */
export async function startServe (dir: string, args: string[] = []): Promise<{ proc: ChildProcess, url: string, port: number, kill: (signal?: NodeJS.Signals) => Promise<void> }> {
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin', 'lmdb-txn.js'), 'serve', dir, ...(args.includes('--port') ? [] : ['--port', '0']), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  proc.stderr!.on('data', (c) => { stderr += c })
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  const line = await new Promise<string>((resolve, reject) => {
    let buf = ''
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 15_000)
    proc.stdout!.on('data', (c) => {
      buf += c
      const i = buf.indexOf('\n')
      if (i >= 0) { clearTimeout(timer); resolve(buf.slice(0, i)) }
    })
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`serve exited ${code}: ${stderr}`)) })
  })
  const { url } = JSON.parse(line)
  return {
    proc,
    url,
    port: Number(new URL(url).port),
    async kill (signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal)
      await exited
    }
  }
}

export type ProxyMode = 'pass' | 'down' | 'slow' | 'cut' | '503'

/**
 * A TCP proxy in front of a replica: 'down' closes every connection at once,
 * 'slow' delays each chunk by 200 ms, 'cut' forwards part of a request body
 * then destroys both sides, '503' answers every request with a 503.
 */
export async function startProxy (target: number): Promise<{ port: number, url: string, mode: ProxyMode, close: () => Promise<void>, connections: number }> {
  const sockets = new Set<net.Socket>()
  let mode: ProxyMode = 'pass'
  const state = {
    port: 0,
    url: '',
    // a new mode applies to every connection: the open ones are cut
    get mode (): ProxyMode { return mode },
    set mode (m: ProxyMode) { mode = m; for (const s of sockets) s.destroy() },
    connections: 0,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
  const server = net.createServer((client) => {
    state.connections++
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    client.on('error', () => {})
    const connMode = mode
    if (connMode === 'down') { client.destroy(); return }
    if (connMode === '503') {
      client.on('data', (c: Buffer) => {
        if (c.toString('latin1').startsWith('GET') || c.toString('latin1').startsWith('POST')) {
          client.write('HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}')
          client.end()
        }
      })
      return
    }
    const upstream = net.connect(target, '127.0.0.1')
    sockets.add(upstream)
    upstream.on('close', () => { sockets.delete(upstream); client.destroy() })
    upstream.on('error', () => client.destroy())
    client.on('close', () => upstream.destroy())
    let head = Buffer.alloc(0)
    client.on('data', (c: Buffer) => {
      if (connMode === 'cut') {
        // forward the headers and 20 bytes of the body, then cut both sides
        head = Buffer.concat([head, c])
        const end = head.indexOf('\r\n\r\n')
        if (end >= 0 && head.length > end + 24) {
          upstream.write(head.subarray(0, end + 24))
          setTimeout(() => { upstream.destroy(); client.destroy() }, 20)
        }
        return
      }
      if (connMode === 'slow') setTimeout(() => upstream.write(c), 200)
      else upstream.write(c)
    })
    upstream.on('data', (c: Buffer) => {
      if (connMode === 'slow') setTimeout(() => client.write(c), 200)
      else client.write(c)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  state.port = (server.address() as net.AddressInfo).port
  state.url = `http://127.0.0.1:${state.port}`
  return state
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export async function until (what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}
