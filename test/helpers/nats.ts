// nats-server for the JetStream tests (the processes: ./nats-cluster.cjs,
// shared with bench scenario 7), and the describe() that skips or fails
// when it is missing.
import { describe, it } from 'vitest'
import type { ChildProcess } from 'node:child_process'
// eslint-disable-next-line @typescript-eslint/no-require-imports
const impl = require('./nats-cluster.cjs')

export interface NatsNode {
  readonly name: string
  readonly url: string
  readonly pid: number | undefined
  readonly running: boolean
  readonly proc: ChildProcess | undefined
  log: string
  start (): void
  kill (): Promise<void>
  waitHealthy (timeoutMs?: number): Promise<void>
  jsz (query?: string): Promise<any>
}

export interface NatsCluster {
  readonly nodes: NatsNode[]
  readonly urls: string[]
  waitReady (timeoutMs?: number): Promise<void>
  streamLeader (stream: string): Promise<NatsNode | undefined>
  stop (): Promise<void>
}

export const NatsCluster: { start (size: 1 | 3, opts?: { maxPayload?: number }): Promise<NatsCluster> } = impl.NatsCluster
export const natsServerAvailable: boolean = impl.natsServerAvailable
export const freePort: () => Promise<number> = impl.freePort

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
