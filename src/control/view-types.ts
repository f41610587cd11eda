// The ring as every surface sees it, in JSON shapes: the console's table, `--json`, the web
// server and the page all read these. Ids are strings (the id space's full form), never bigints.
// Imports nothing, so the browser build can share it.

/** planned: in the plan, not started; live: running here; departed: left, was killed, or failed. */
export type PeerState = 'planned' | 'live' | 'departed';
/** The protocol core's phase of a live peer. */
export type PeerPhase = 'starting' | 'joining' | 'active' | 'leaving' | 'stopped';

export interface FileView {
  /** The file's name in the data folder: `2067.pdf`, `received_4103.pdf`. */
  name: string;
  size: number;
  /** A copy that arrived for a Request (received_NNNN.pdf). */
  received: boolean;
}

export interface PeerView {
  id: string;
  state: PeerState;
  phase?: PeerPhase;
  /** What the peer believes, nearest first (planned peers: the planned ring's). */
  successors: string[];
  pred1?: string;
  pred2?: string;
  /** The true ring's first two successors of this peer (peers in the ring). */
  want?: string[];
  /** Its first two successors disagree with the true ring. */
  stale: boolean;
  files: FileView[];
  departure?: 'graceful' | 'abrupt' | 'failed';
  reason?: string;
  /**
   * What later capabilities add, each a layer the page can show or hide: a list of ids is
   * drawn as links (fingers, replicas), anything else is listed (a private ring's lock).
   */
  layers?: Record<string, string[] | string | boolean | number>;
}

/** A stored name as the live peers' key stores report it. */
export interface KeyView {
  name: string;
  key: string;
  size: number;
  /** The key's owner among the ring's members. */
  owner: string | null;
  /** Live peers holding it, owner first, then clockwise. */
  holders: string[];
  /** Copies the ring should keep: min(k, live peers). */
  want: number;
}

/** Why the controller could not do what was asked (the same code on every surface). */
export type ControlCode =
  | 'BAD_ID'
  | 'BAD_FILE'
  | 'BAD_KEY'
  | 'BAD_COUNT'
  | 'ID_TAKEN'
  | 'UNKNOWN_PEER'
  | 'NOT_RUNNING'
  | 'ALREADY_RUNNING'
  | 'BUSY'
  | 'EMPTY_PLAN'
  | 'START_FAILED'
  | 'JOIN_FAILED'
  /** A remote ring watched without a certificate: nothing may change it from here. */
  | 'READ_ONLY'
  /** Not something a remote ring can be asked over its protocol (start, add, store, ...). */
  | 'UNSUPPORTED'
  /** The peer asked said no (a decommission without its own certificate). */
  | 'REFUSED';

export type RingPhase = 'planned' | 'starting' | 'running' | 'stopping';

export interface RingState {
  type: 'state';
  /** Grows with every change the controller publishes. */
  seq: number;
  phase: RingPhase;
  runtime: 'node' | 'sim';
  /** Bits of the id space (8: ids 0..255). */
  bits: number;
  /** The ring's clock in ms (virtual on the simulator). */
  at: number;
  /** Sorted by id. */
  peers: PeerView[];
  /** Ids the ring names that run outside this process (not monitored here, counted as members). */
  outside: string[];
  /** Ids of live peers whose first two successors disagree with the true ring. */
  stale: string[];
  /** Layer names present on some peer (see PeerView.layers). */
  layers: string[];
  /** Every stored name the live peers hold (at most MAX_KEYS_SHOWN), with its holders. */
  keys: KeyView[];
  /** Names with fewer live copies than the ring keeps (`holders.length < want`). */
  short: string[];
  /** Set when the ring runs elsewhere and this view is a walk of it (`cdht web --peer`). */
  remote?: RemoteView;
}

/** A ring in other processes, seen by walking it over the peers' protocol (`cdht status`'s walk). */
export interface RemoteView {
  /** The peer the last walk started from, as host:port. */
  peer: string;
  /** When the last walk ended (ms, the watcher's clock). */
  walkedAt: number;
  /** The last walk came back to where it started. */
  complete: boolean;
  /** Peers the walk stepped past, or why it stopped short. */
  notes: string[];
  /** Why the last walk found no peer at all (the view then shows the one before it). */
  error?: string;
  /** Verbs this page may use on the ring besides watching it: ['quit'] with a certificate, else none. */
  actions: string[];
}

export interface RouteView {
  key: string;
  /** The true owner of the key among the ring's members. */
  owner: string | null;
  from: string;
  /** Peers the message crosses, `from` first, asking each its real next hop. */
  path: string[];
  /** The path ends at a peer that takes the key itself. */
  complete: boolean;
  /** Why the path stops early (a next hop that is not running here). */
  note?: string;
}

/** A trace of one peer, as JSON: the typed event plus the lines it prints as. */
export interface TraceView {
  peer: string;
  at: number;
  trace: { kind: string; [field: string]: unknown };
  lines: { text: string; level: 'info' | 'ping' | 'debug' }[];
}
