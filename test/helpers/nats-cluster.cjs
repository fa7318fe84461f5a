'use strict'
// Real nats-server processes for the JetStream tests and benchmark: one
// server, or a three-node cluster with routes on loopback. Each node listens
// on free 127.0.0.1 ports, keeps its store in a temp dir (kept across
// kill/restart), and is ended by its pid — on stop(), and from an exit hook
// if the process dies first. Used by test/helpers/nats.ts and bench scenario 7.
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const http = require('node:http')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

const BINARY = 'nats-server'

/** Whether nats-server is on PATH (probed once). */
const natsServerAvailable = spawnSync(BINARY, ['--version'], { encoding: 'utf8' }).status === 0

const live = new Set()
process.on('exit', () => { for (const p of live) try { process.kill(p.pid, 'SIGKILL') } catch {} })

/** A free TCP port on 127.0.0.1 (the kernel picks; closed again at once). */
function freePort () {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = s.address().port
      s.close(() => resolve(port))
    })
  })
}

function getJson (port, urlPath, timeoutMs = 1000) {
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

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** One nats-server process (restartable on the same ports and store dir). */
class NatsNode {
  constructor (name, port, monitorPort, clusterPort, routes, storeDir, opts = {}) {
    Object.assign(this, { name, port, monitorPort, clusterPort, routes, storeDir, opts })
    this.proc = undefined
    this.log = ''
  }

  get url () { return `nats://127.0.0.1:${this.port}` }
  get pid () { return this.proc?.pid }
  get running () { return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null }

  config () {
    const lines = [
      `server_name: ${this.name}`,
      'host: 127.0.0.1',
      `port: ${this.port}`,
      `http: 127.0.0.1:${this.monitorPort}`,
      `jetstream { store_dir: ${JSON.stringify(this.storeDir)} }`
    ]
    if (this.opts.maxPayload !== undefined) lines.push(`max_payload: ${this.opts.maxPayload}`)
    if (this.clusterPort !== undefined) {
      lines.push('cluster {', '  name: lmdbtxn', `  listen: 127.0.0.1:${this.clusterPort}`,
        `  routes: [${this.routes.map((p) => `nats-route://127.0.0.1:${p}`).join(', ')}]`, '}')
    }
    return lines.join('\n') + '\n'
  }

  start () {
    if (this.running) throw new Error(`${this.name} already running`)
    const conf = path.join(this.storeDir, '..', `${this.name}.conf`)
    fs.writeFileSync(conf, this.config())
    const proc = spawn(BINARY, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] })
    proc.stderr.setEncoding('utf8')
    proc.stderr.on('data', (c) => { this.log = (this.log + c).slice(-20_000) })
    live.add(proc)
    proc.once('exit', () => live.delete(proc))
    this.proc = proc
  }

  /** SIGKILL by pid; resolves when the process is gone. */
  async kill () {
    const proc = this.proc
    if (proc === undefined || !this.running) return
    const gone = new Promise((resolve) => proc.once('exit', resolve))
    process.kill(proc.pid, 'SIGKILL')
    await gone
  }

  /** Resolves once the monitor says the server (and JetStream) is up. */
  async waitHealthy (timeoutMs = 20_000) {
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

  /** /jsz of this node. */
  jsz (query = '') { return getJson(this.monitorPort, '/jsz' + query) }
}

/** A set of nodes: one standalone server or a routed cluster. */
class NatsCluster {
  constructor (nodes, root) { this.nodes = nodes; this.root = root }

  get urls () { return this.nodes.map((n) => n.url) }

  /** size 1 or 3; opts.maxPayload sets the server's max_payload. */
  static async start (size, opts = {}) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lmdb-txn-nats-'))
    const clients = []; const monitors = []; const cluster = []
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

  /** Every running node healthy and, in a cluster, one JetStream meta leader agreed on. */
  async waitReady (timeoutMs = 30_000) {
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
  async streamLeader (stream, timeoutMs = 20_000) {
    const { connect } = require('@nats-io/transport-node')
    const { jetstreamManager } = require('@nats-io/jetstream')
    const nc = await connect({ servers: this.nodes.filter((n) => n.running).map((n) => n.url) })
    try {
      // Right after a leader change the JetStream API may not answer one
      // request in time (seen on a loaded machine): ask again, bounded.
      const deadline = Date.now() + timeoutMs
      for (;;) {
        try {
          const info = await (await jetstreamManager(nc)).streams.info(stream)
          return this.nodes.find((n) => n.name === info.cluster?.leader)
        } catch (e) {
          if (e?.name !== 'TimeoutError' || Date.now() > deadline) throw e
          await sleep(250)
        }
      }
    } finally { await nc.close() }
  }

  /** SIGKILL every node by pid and remove the store dirs. */
  async stop () {
    await Promise.all(this.nodes.map((n) => n.kill()))
    fs.rmSync(this.root, { recursive: true, force: true })
  }
}

module.exports = { natsServerAvailable, freePort, NatsNode, NatsCluster }
