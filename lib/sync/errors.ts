import { LmdbTxnError } from '../errors'

/**
 * rep.transaction() / rep.synced() did not see every peer acknowledge in
 * time. The write is committed locally and stays; delivery goes on in the
 * background and a later synced(seq) still resolves.
 */
export class SyncTimeoutError extends LmdbTxnError {
  readonly seq: number
  /** Ids of the peers that had not acknowledged `seq`. */
  readonly peers: string[]
  constructor (seq: number, peers: string[], timeoutMs: number) {
    super('SYNC_TIMEOUT', `seq ${seq} was not acknowledged within ${timeoutMs} ms by ${peers.join(', ')}; ` +
      'it is committed locally and delivery continues')
    this.seq = seq
    this.peers = peers
  }
}

/** rep.close() ended the replication while this waited. */
export class ReplicationClosedError extends LmdbTxnError {
  constructor (message: string) { super('REPLICATION_CLOSED', message) }
}
