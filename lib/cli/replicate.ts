/**
 * `lmdb-txn replicate <dir> --nats <url>[,<url>…] --stream <name>`: keeps
 * <dir> a replica of the primary that publishes to that JetStream stream
 * (lib/sync/jetstream.ts) until SIGINT/SIGTERM. Exits 1 when replication
 * stops on its own (a gap in the stream, another store's records).
 */
import { open } from '../store'
import type { Durability } from '../options'
import { EXIT_OK, EXIT_PROBLEM, intOption, UsageError } from './common'
import type { Command } from './command'

const DURABILITIES = ['sync', 'nometasync', 'nosync']

export const replicate: Command = {
  name: 'replicate',
  usage: 'replicate <dir> --nats <url>[,<url>…] --stream <name> [--consumer <name>]',
  summary: 'keep <dir> a replica of a primary through a NATS JetStream stream (runs until stopped)',
  details: [
    '  --nats <urls>           server URL(s), comma-separated (any node of a cluster)',
    '  --stream <name>         the stream the primary publishes to',
    '  --consumer <name>       durable consumer name (default: from host name and <dir>); one per replica',
    '  --subject-prefix <p>    subjects are <p>.<store id> (default lmdb-txn.<stream>)',
    '  --primary <store id>    which store to follow when the stream carries several',
    '  --durability <mode>     sync (default) | nometasync | nosync, for the replica store',
    '  --change-log            open the replica with its own change log (it records each applied record once)',
    '  --status-every <ms>     print a status line to stderr this often (default 0: never)',
    '',
    'Needs the optional packages @nats-io/transport-node and @nats-io/jetstream.',
    'Stops cleanly on SIGINT/SIGTERM; exits 1 if replication stops on its own (e.g. a gap).'
  ].join('\n'),
  options: {
    nats: { type: 'string' },
    stream: { type: 'string' },
    consumer: { type: 'string' },
    'subject-prefix': { type: 'string' },
    primary: { type: 'string' },
    durability: { type: 'string' },
    'status-every': { type: 'string' },
    'change-log': { type: 'boolean' }
  },
  minArgs: 1,
  maxArgs: 1,
  async run ({ args, opts }) {
    if (typeof opts.nats !== 'string') throw new UsageError('replicate: --nats <url> is required')
    if (typeof opts.stream !== 'string') throw new UsageError('replicate: --stream <name> is required')
    const durability = (opts.durability ?? 'sync') as string
    if (!DURABILITIES.includes(durability)) throw new UsageError(`replicate: --durability must be one of ${DURABILITIES.join(', ')}`)
    const every = intOption(opts['status-every'], 'status-every') ?? 0
    // loaded here: the sync module registers the JetStream transport
    const { jetStreamReplica } = await import('../sync/jetstream')
    const store = open(args[0], { durability: durability as Durability, changeLog: opts['change-log'] === true })
    let rep
    try {
      rep = jetStreamReplica(store, {
        nats: opts.nats,
        stream: opts.stream,
        consumer: opts.consumer as string | undefined,
        subjectPrefix: opts['subject-prefix'] as string | undefined,
        primary: opts.primary as string | undefined
      })
    } catch (e) {
      store.close()
      throw new UsageError(`replicate: ${(e as Error).message}`)
    }
    const r = rep
    process.stderr.write(`lmdb-txn: replicating stream ${opts.stream} into ${store.path} (applied seq ${r.status().appliedSeq})\n`)
    const stop = (): void => { void r.close() }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    const timer = every > 0 ? setInterval(() => process.stderr.write(`lmdb-txn: ${JSON.stringify(r.status())}\n`), every) : undefined
    let failure: unknown
    try {
      await r.done
    } catch (e) {
      failure = e
    } finally {
      if (timer !== undefined) clearInterval(timer)
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      const applied = r.status().appliedSeq
      store.close()
      process.stderr.write(`lmdb-txn: replication ${failure === undefined ? 'stopped' : 'failed'} at applied seq ${applied}\n`)
    }
    if (failure !== undefined) {
      process.stderr.write(`lmdb-txn: ${(failure as Error)?.message ?? String(failure)}\n`)
      return EXIT_PROBLEM
    }
    return EXIT_OK
  }
}
