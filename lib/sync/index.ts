/**
 * lmdb-txn/sync — replication of the change log to peers (SPEC §11.2,
 * §11.3; docs/replication.md).
 *
 * Primary: replicate(store, { peers }) → Replication.
 * Replica: serveReplica(store, options) (HTTP endpoint, `lmdb-txn serve`),
 * or applyMessage(store, bytes) from any other transport.
 * Transports: implement Peer (lib/sync/peer.ts) over the wire format
 * (lib/sync/wire.ts); registerTransport() lets replicate() build them
 * from peer specs.
 */
export { replicate, registerTransport, Replication, type ReplicateOptions, type PeerStatus, type PeerSpec, type PeerContext } from './replicate'
export { serveReplica, type ServeOptions, type ReplicaServer } from './http-server'
export { HttpPeer, type HttpPeerOptions } from './http-peer'
export { applyMessage, applyMessages, replicaState, GapError, ForeignPrimaryError, type ApplyResult, type ApplyStatus, type Applied } from './apply'
export { type Peer, type PeerHello, PeerError } from './peer'
export {
  encodeMessage, decodeMessage, splitRecord, opOffsets,
  WIRE_MAGIC, WIRE_VERSION, WIRE_HEADER_BYTES, MAX_PARTS, FLAG_PER_OP,
  type WireMessage, type PeerLimits
} from './wire'
export { CursorStore } from './cursors'
export { exponentialBackoff, type BackoffOptions, type BackoffPolicy } from './backoff'
export { SyncTimeoutError, ReplicationClosedError } from './errors'
export { RecordFormatError, decodeRecord, encodeRecord, type Change, type ChangeOp } from '../changes'
// JetStream transport: registers { nats, stream } peers (the NATS clients load lazily on first use)
export { JetStreamPeer, jetStreamReplica, defaultConsumerName, type JetStreamPeerOptions, type JetStreamCreateOptions, type JetStreamReplicaCallOptions } from './jetstream'
export { JetStreamReplica, ReplicaGapError, FatalReplicaError, type JetStreamReplicaStatus } from './jetstream-replica'
export { StreamMissingError, StreamRefusedError, StreamOrderError } from './jetstream-publisher'
export { NatsClientMissingError } from './nats-client'
