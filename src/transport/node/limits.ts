// Every bound and deadline of the Node transport, named in one place. Tests may shorten them
// (createNodeRuntime({ limits })); peers run with these defaults.
import { ConfigError } from '../../core/config.js';
import { MAX_FRAME_BYTES } from '../../wire/index.js';

// ---- time ----------------------------------------------------------------------------------

/** A dial (TCP connect, and the TLS handshake on a private ring) must finish within this. */
export const CONNECT_TIMEOUT_MS = 3_000;
/** An accepted TLS connection must finish its handshake within this, or it is dropped. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 5_000;
/** An accepted connection must deliver its first whole frame within this (slow openers hold slots). */
export const FIRST_FRAME_TIMEOUT_MS = 5_000;
/**
 * Once a frame's first byte has arrived, the whole frame must arrive within this: a trickle of
 * one byte every few seconds cannot hold a connection (and its buffer) open.
 */
export const FRAME_DEADLINE_MS = 5_000;
/** The same for a file-data frame (up to 1 MiB): a link slower than ~35 KB/s is dropped. */
export const FILE_FRAME_DEADLINE_MS = 30_000;
/** A file connection with no bytes for this long is abandoned (partial file removed). */
export const TRANSFER_IDLE_MS = 30_000;
/** A message sent on a connection must be acknowledged within this, or the connection is dropped. */
export const ACK_TIMEOUT_MS = 5_000;
/** A message connection with no traffic (messages, acks, sealed datagrams) for this long is closed. */
export const IDLE_CLOSE_MS = 60_000;
/** A closing connection (goaway sent) must finish within this, or it is dropped. */
export const DRAIN_TIMEOUT_MS = 5_000;
/** After refusing a file, its bytes are read and discarded this long so the refusal reaches the sender. */
export const REFUSE_LINGER_MS = 2_000;
/** onFileProgress and sendFile's onProgress are called at most this often. */
export const FILE_PROGRESS_INTERVAL_MS = 250;
/** Datagram keys stay valid this long after the connection they came from has closed. */
export const KEY_GRACE_MS = 120_000;

// ---- sizes ---------------------------------------------------------------------------------

/** Largest frame on a message connection (routed messages are a few hundred bytes). */
export const MAX_MESSAGE_FRAME_BYTES = 64 * 1024;
/** Largest file-data frame accepted on a file connection (the codec's limit). */
export const MAX_FILE_FRAME_BYTES = MAX_FRAME_BYTES;
/** File bytes per file-data frame when sending: large reads, few frames, one header each. */
export const FILE_DATA_CHUNK_BYTES = 512 * 1024;
/** Received files from this size on are hashed and written by a worker thread, not the socket's thread. */
export const FILE_WORKER_MIN_BYTES = 8 * 1024 * 1024;
/** Partial frames held for connections from one remote host, together. */
export const MAX_BUFFERED_BYTES_PER_HOST = 1024 * 1024;
/** Partial frames held for all connections together. */
export const MAX_BUFFERED_BYTES_TOTAL = 16 * 1024 * 1024;
/**
 * Partial frames held for members' connections (and those we dialed), together: a budget of their
 * own, so strangers filling theirs cannot starve the ring's own traffic. Members often share a
 * host (one machine runs several peers), so there is no per-host share inside it.
 */
export const MAX_MEMBER_BUFFERED_BYTES = 8 * 1024 * 1024;
/** Temporary (.part) space for files being received, in files of --max-file-size. */
export const TEMP_SPACE_FILES = 2;
/** Temporary space when no --max-file-size is given. */
export const MAX_TEMP_BYTES = 4 * 1024 * 1024 * 1024;
/** Bytes queued for writing on a message connection before we stop reading from it. */
export const MAX_LINK_WRITE_BACKLOG_BYTES = 1024 * 1024;
/** Largest datagram accepted or sent. */
export const MAX_DATAGRAM_BYTES = 64 * 1024;

// ---- counts --------------------------------------------------------------------------------

/** Accepted connections open at once (handshaking, messages and files together). */
export const MAX_INBOUND_CONNECTIONS = 256;
/**
 * Of those, slots only the ring's members may hold (a private ring: a valid certificate; an open
 * ring: a first frame naming a known neighbour at the connection's host). Strangers share the rest.
 */
export const MEMBER_SLOTS = 64;
/** Accepted strangers' connections open at once from one remote host (members are not capped per host). */
export const MAX_INBOUND_PER_HOST = 32;
/** Message connections we dialed, open at once; at the limit the least recently used idle one is closed. */
export const MAX_OUTBOUND_LINKS = 64;
/** Sends waiting for a free outbound slot; beyond this a send is rejected at once. */
export const MAX_QUEUED_DIALS = 1024;
/** Messages sent on one connection and not yet acknowledged; beyond this a send is rejected at once. */
export const MAX_UNACKED_PER_LINK = 1024;
/** File transfers we send at once; more wait. */
export const MAX_OUTBOUND_FILES = 16;
/** File transfers waiting to be sent; beyond this sendFile is rejected at once. */
export const MAX_QUEUED_FILES = 256;
/** Datagram keys held (one per TLS connection, kept KEY_GRACE_MS after it closes). */
export const MAX_DATAGRAM_KEYS = 1024;
/** Sealed datagrams remembered per key to refuse replays: a sliding window of counters. */
export const REPLAY_WINDOW = 128;
/** Datagrams queued for a peer while a connection (and so a key) is being made; older ones are dropped. */
export const MAX_QUEUED_DATAGRAMS_PER_PEER = 4;
/** Peers with datagrams queued at once. */
export const MAX_PEERS_AWAITING_KEYS = 64;

/** The bounds an endpoint runs with; tests override some of them. */
export interface Limits {
  connectTimeoutMs: number;
  tlsHandshakeTimeoutMs: number;
  firstFrameTimeoutMs: number;
  frameDeadlineMs: number;
  fileFrameDeadlineMs: number;
  transferIdleMs: number;
  ackTimeoutMs: number;
  idleCloseMs: number;
  drainTimeoutMs: number;
  refuseLingerMs: number;
  fileProgressIntervalMs: number;
  keyGraceMs: number;
  maxMessageFrameBytes: number;
  maxFileFrameBytes: number;
  fileDataChunkBytes: number;
  fileWorkerMinBytes: number;
  maxBufferedBytesPerHost: number;
  maxBufferedBytesTotal: number;
  maxMemberBufferedBytes: number;
  tempSpaceFiles: number;
  maxTempBytes: number;
  maxLinkWriteBacklogBytes: number;
  maxDatagramBytes: number;
  maxInboundConnections: number;
  memberSlots: number;
  maxInboundPerHost: number;
  maxOutboundLinks: number;
  maxQueuedDials: number;
  maxUnackedPerLink: number;
  maxOutboundFiles: number;
  maxQueuedFiles: number;
  maxDatagramKeys: number;
  replayWindow: number;
  maxQueuedDatagramsPerPeer: number;
  maxPeersAwaitingKeys: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  connectTimeoutMs: CONNECT_TIMEOUT_MS,
  tlsHandshakeTimeoutMs: TLS_HANDSHAKE_TIMEOUT_MS,
  firstFrameTimeoutMs: FIRST_FRAME_TIMEOUT_MS,
  frameDeadlineMs: FRAME_DEADLINE_MS,
  fileFrameDeadlineMs: FILE_FRAME_DEADLINE_MS,
  transferIdleMs: TRANSFER_IDLE_MS,
  ackTimeoutMs: ACK_TIMEOUT_MS,
  idleCloseMs: IDLE_CLOSE_MS,
  drainTimeoutMs: DRAIN_TIMEOUT_MS,
  refuseLingerMs: REFUSE_LINGER_MS,
  fileProgressIntervalMs: FILE_PROGRESS_INTERVAL_MS,
  keyGraceMs: KEY_GRACE_MS,
  maxMessageFrameBytes: MAX_MESSAGE_FRAME_BYTES,
  maxFileFrameBytes: MAX_FILE_FRAME_BYTES,
  fileDataChunkBytes: FILE_DATA_CHUNK_BYTES,
  fileWorkerMinBytes: FILE_WORKER_MIN_BYTES,
  maxBufferedBytesPerHost: MAX_BUFFERED_BYTES_PER_HOST,
  maxBufferedBytesTotal: MAX_BUFFERED_BYTES_TOTAL,
  maxMemberBufferedBytes: MAX_MEMBER_BUFFERED_BYTES,
  tempSpaceFiles: TEMP_SPACE_FILES,
  maxTempBytes: MAX_TEMP_BYTES,
  maxLinkWriteBacklogBytes: MAX_LINK_WRITE_BACKLOG_BYTES,
  maxDatagramBytes: MAX_DATAGRAM_BYTES,
  maxInboundConnections: MAX_INBOUND_CONNECTIONS,
  memberSlots: MEMBER_SLOTS,
  maxInboundPerHost: MAX_INBOUND_PER_HOST,
  maxOutboundLinks: MAX_OUTBOUND_LINKS,
  maxQueuedDials: MAX_QUEUED_DIALS,
  maxUnackedPerLink: MAX_UNACKED_PER_LINK,
  maxOutboundFiles: MAX_OUTBOUND_FILES,
  maxQueuedFiles: MAX_QUEUED_FILES,
  maxDatagramKeys: MAX_DATAGRAM_KEYS,
  replayWindow: REPLAY_WINDOW,
  maxQueuedDatagramsPerPeer: MAX_QUEUED_DATAGRAMS_PER_PEER,
  maxPeersAwaitingKeys: MAX_PEERS_AWAITING_KEYS,
});

/** The defaults with some bounds replaced; every value must be a positive number. */
export function resolveLimits(overrides: Partial<Limits> = {}): Limits {
  const limits = { ...DEFAULT_LIMITS, ...overrides };
  for (const [name, v] of Object.entries(limits)) {
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new ConfigError('limits', `limit ${name} must be a positive number (got ${String(v)})`);
  }
  if (limits.memberSlots >= limits.maxInboundConnections) throw new ConfigError('limits', 'memberSlots must leave strangers at least one of maxInboundConnections');
  if (limits.fileDataChunkBytes + 6 > limits.maxFileFrameBytes) throw new ConfigError('limits', 'fileDataChunkBytes must fit in maxFileFrameBytes');
  return limits;
}
