import { expect, it } from 'vitest'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { describeNats, NatsCluster } from '../helpers/nats'

describeNats('nats-server harness', () => {
  it('starts one server, kills it by pid and restarts it on the same store dir', async () => {
    const c = await NatsCluster.start(1)
    try {
      const nc = await connect({ servers: c.urls })
      const jsm = await jetstreamManager(nc)
      await jsm.streams.add({ name: 'H', subjects: ['h.>'] })
      await nc.close()
      const pid = c.nodes[0].pid!
      await c.nodes[0].kill()
      expect(() => process.kill(pid, 0)).toThrow()
      c.nodes[0].start()
      await c.waitReady()
      const nc2 = await connect({ servers: c.urls })
      expect((await (await jetstreamManager(nc2)).streams.info('H')).config.name).toBe('H')
      await nc2.close()
    } finally { await c.stop() }
  })

  it('forms a three-node cluster with a meta leader and reports the stream leader', async () => {
    const c = await NatsCluster.start(3)
    try {
      const nc = await connect({ servers: c.urls })
      const jsm = await jetstreamManager(nc)
      await jsm.streams.add({ name: 'R', subjects: ['r.>'], num_replicas: 3 })
      const info = await jsm.streams.info('R')
      const leader = await c.streamLeader('R')
      expect(leader?.name).toBe(info.cluster?.leader)
      await nc.close()
    } finally { await c.stop() }
  })
})
