// Real nats-server processes for the JetStream tests: one server, or a
// three-node cluster with routes on loopback. Each node listens on free
// 127.0.0.1 ports, keeps its store in a temp dir (kept across kill/restart),
// and is ended by its pid — on stop(), and from an exit hook if a test dies.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import * as http from 'node:http'
import * as net from 'node:net'
import * as os from 'node:os'
import * as path from 'node:path'
import { describe, it } from 'vitest'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'

const BINARY = 'nats-server'

/** Whether nats-server is on PATH (probed once). */
export const natsServerAvailable: boolean =
  spawnSync(BINARY, ['--version'], { encoding: 'utf8' }).status === 0

/**
 * `describe` for suites that need nats-server: skipped with one line naming
 * the package when it is missing; with CI set a missing server is a failure.
 */
export function describeNats (name: string, fn: () => void): void {
  if (natsServerAvailable) { describe(name, fn); return }
  if (process.env.CI) {
    describe(name, () => {
      it('nats-server is installed (CI)', () => { throw new Error('nats-server missing: apt-get install nats-server') })
    })
    return
  }
  describe.skip(`${name} (needs nats-server: apt-get install nats-server)`, fn)
}

const live = new Set<ChildProcess>()
process.on('exit', () => { for (const p of live) if (p.pid !== undefined) try { process.kill(p.pid, 'SIGKILL') } catch {} })

/** A free TCP port on 127.0.0.1 (the kernel picks; closed again at once). */
export function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}

function getJson (port: number, urlPath: string, timeoutMs = 1000): Promise<any> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, timeout: timeoutMs }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => { body += c })
      res.on('end', () => { try { resolve(JSON.parse(body)) } catch (e) { reject(e) } })
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
  })
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export interface NodeOptions {
  maxPayload?: number
}

/** One nats-server process (restartable on the same ports and store dir). */
export class NatsNode {
  proc: ChildProcess | undefined
  log = ''
  constructor (
    readonly name: string,
    readonly port: number,
    readonly monitorPort: number,
    readonly clusterPort: number | undefined,
    readonly routes: number[],
    readonly storeDir: string,
    readonly opts: NodeOptions = {}
  ) {}

  get url (): string { return `nats://127.0.0.1:${this.port}` }
  get pid (): number | undefined { return this.proc?.pid }
  get running (): boolean { return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null }

  #config (): string {
    const lines = [
      `server_name: ${this.name}`,
      'host: 127.0.0.1',
      `port: ${this.port}`,
      'http: 127.0.0.1:' + this.monitorPort,
      `jetstream { store_dir: ${JSON.stringify(this.storeDir)} }`
    ]
    if (this.opts.maxPayload !== undefined) lines.push(`max_payload: ${this.opts.maxPayload}`)
    if (this.clusterPort !== undefined) {
      lines.push('cluster {', '  name: lmdbtxn', `  listen: 127.0.0.1:${this.clusterPort}`,
        `  routes: [${this.routes.map((p) => `nats-route://127.0.0.1:${p}`).join(', ')}]`, '}')
    }
    return lines.join('\n') + '\n'
  }

  start (): void {
    if (this.running) throw new Error(`${this.name} already running`)
    const conf = path.join(this.storeDir, '..', `${this.name}.conf`)
    fs.writeFileSync(conf, this.#config())
    const proc = spawn(BINARY, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] })
    proc.stderr!.setEncoding('utf8')
    proc.stderr!.on('data', (c: string) => { this.log = (this.log + c).slice(-20_000) })
    live.add(proc)
    proc.once('exit', () => live.delete(proc))
    this.proc = proc
  }

  /** SIGKILL by pid; resolves when the process is gone. */
  async kill (): Promise<void> {
    const proc = this.proc
    if (proc === undefined || !this.running) return
    const gone = new Promise((resolve) => proc.once('exit', resolve))
    process.kill(proc.pid!, 'SIGKILL')
    await gone
  }

  /** Resolves once the monitor says the server (and JetStream) is up. */
  async waitHealthy (timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      if (!this.running) throw new Error(`${this.name} exited:\n${this.log}`)
      try {
        const h = await getJson(this.monitorPort, '/healthz?js-enabled-only=true')
        if (h.status === 'ok') return
      } catch {}
      if (Date.now() > deadline) throw new Error(`${this.name} not healthy after ${timeoutMs} ms:\n${this.log}`)
      await sleep(50)
    }
  }

  /** /jsz of this node (meta leader, stream leaders with details). */
  jsz (query = ''): Promise<any> { return getJson(this.monitorPort, '/jsz' + query) }
}

/** A set of nodes: one standalone server or a routed cluster. */
export class NatsCluster {
  readonly #root: string
  private constructor (readonly nodes: NatsNode[], root: string) { this.#root = root }

  get urls (): string[] { return this.nodes.map((n) => n.url) }

  static async start (size: 1 | 3, opts: NodeOptions = {}): Promise<NatsCluster> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lmdb-txn-nats-'))
    const clients = [], monitors = [], cluster: number[] = []
    for (let i = 0; i < size; i++) {
      clients.push(await freePort()); monitors.push(await freePort())
      if (size > 1) cluster.push(await freePort())
    }
    const nodes = clients.map((port, i) => {
      const storeDir = path.join(root, `n${i + 1}`)
      fs.mkdirSync(storeDir)
      return new NatsNode(`n${i + 1}`, port, monitors[i], size > 1 ? cluster[i] : undefined,
        cluster.filter((_, j) => j !== i), storeDir, opts)
    })
    const c = new NatsCluster(nodes, root)
    try {
      for (const n of nodes) n.start()
      await c.waitReady()
    } catch (e) { await c.stop(); throw e }
    return c
  }

  /** Every running node healthy and, in a cluster, a JetStream meta leader elected. */
  async waitReady (timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    const running = this.nodes.filter((n) => n.running)
    for (const n of running) await n.waitHealthy(Math.max(1000, deadline - Date.now()))
    if (this.nodes.length === 1) return
    for (;;) {
      const leaders = await Promise.all(running.map((n) => n.jsz().then((j) => j.meta_cluster?.leader, () => undefined)))
      if (leaders.every((l) => l && l === leaders[0])) return
      if (Date.now() > deadline) throw new Error(`no JetStream meta leader after ${timeoutMs} ms: ${JSON.stringify(leaders)}`)
      await sleep(100)
    }
  }

  /** The node leading `stream`, as the JetStream API of the running nodes says. */
  async streamLeader (stream: string): Promise<NatsNode | undefined> {
    const nc = await connect({ servers: this.nodes.filter((n) => n.running).map((n) => n.url) })
    try {
      const info = await (await jetstreamManager(nc)).streams.info(stream)
      return this.nodes.find((n) => n.name === info.cluster?.leader)
    } finally { await nc.close() }
  }

  /** SIGKILL every node by pid and remove the store dirs. */
  async stop (): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()))
    fs.rmSync(this.#root, { recursive: true, force: true })
  }
}
