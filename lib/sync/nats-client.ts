/**
 * Lazy loading of the optional NATS clients. `lmdb-txn/sync` users of HTTP
 * never load (or install) them; a `{ nats }` peer or `replicate --nats` loads
 * them on first use and names the packages when they are missing.
 */
import { LmdbTxnError } from '../errors'
import type * as Transport from '@nats-io/transport-node'
import type * as JetStream from '@nats-io/jetstream'
import type * as Core from '@nats-io/nats-core'

export interface NatsModules {
  /** transport-node re-exports nats-core at run time; its typings do so via a subpath TS cannot resolve here. */
  transport: typeof Transport & Pick<typeof Core, 'headers'>
  jetstream: typeof JetStream
}

/** A `{ nats }` peer was configured but the client packages are not installed. */
export class NatsClientMissingError extends LmdbTxnError {
  constructor (cause: unknown) {
    super('NATS_CLIENT_MISSING', 'JetStream replication needs the optional packages @nats-io/transport-node and @nats-io/jetstream ' +
      '(npm install @nats-io/transport-node@^3.3.1 @nats-io/jetstream@^3.3.1)', { cause })
  }
}

let loaded: NatsModules | undefined

export function loadNats (): NatsModules {
  if (loaded !== undefined) return loaded
  try {
    loaded = {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      transport: require('@nats-io/transport-node'),
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      jetstream: require('@nats-io/jetstream')
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') throw new NatsClientMissingError(e)
    throw e
  }
  return loaded
}

/** Server URLs: one string, comma-separated, or a list; each must parse. */
export function natsServers (nats: string | string[]): string[] {
  const list = (Array.isArray(nats) ? nats : nats.split(',')).map((s) => s.trim()).filter((s) => s !== '')
  if (list.length === 0) throw new TypeError('nats: at least one server URL is required')
  for (const url of list) {
    const withScheme = url.includes('://') ? url : `nats://${url}`
    let u: URL
    try { u = new URL(withScheme) } catch { throw new TypeError(`nats: ${JSON.stringify(url)} is not a server URL`) }
    if (!['nats:', 'tls:', 'ws:', 'wss:'].includes(u.protocol)) throw new TypeError(`nats: ${JSON.stringify(url)} has an unsupported scheme`)
  }
  return list
}

/** A stream name as JetStream accepts it (no spaces, dots, wildcards, path separators). */
export function checkStreamName (what: string, name: unknown): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(name)) {
    throw new TypeError(`${what} must be 1-128 characters of A-Z a-z 0-9 _ - (got ${JSON.stringify(name)})`)
  }
  return name
}

/** A subject prefix: dot-separated tokens without wildcards or spaces. */
export function checkSubjectPrefix (prefix: unknown): string {
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix)) {
    throw new TypeError(`subjectPrefix must be dot-separated tokens of A-Z a-z 0-9 _ - (got ${JSON.stringify(prefix)})`)
  }
  return prefix
}

/** Msg id (deduplication) of a record, or of part `part` (0-based) of `parts`. */
export function messageId (storeId: string, seq: number, part: number, parts: number): string {
  return parts === 1 ? `${storeId}:${seq}` : `${storeId}:${seq}:${part + 1}/${parts}`
}
