// The web page's protocol: JSON text frames over one WebSocket at /ws. The page sends verbs;
// the server answers each with one reply or one error, and pushes the ring's state and traces.
import type { ControlCode, RingState, RouteView, TraceView } from '../control/view-types.js';

export const PROTOCOL_VERSION = 1;
/** A message from the page larger than this gets an error reply (larger frames close the socket). */
export const MAX_MESSAGE_BYTES = 16 * 1024;

export const VERBS = ['start', 'stop', 'add', 'join', 'store', 'request', 'quit', 'kill', 'state', 'routes', 'pings'] as const;
export type Verb = (typeof VERBS)[number];

/** Page -> server. `ref` comes back on the reply; the other fields are the verb's arguments. */
export interface ClientMessage {
  verb: Verb;
  ref?: string | number;
  /** add, join, store, request, quit, kill: the peer; routes: where the path starts. */
  peer?: string;
  /** join: the known peer. */
  via?: string;
  /** store, request: the four-digit file name. */
  file?: string;
  /** routes: a key or a file name. */
  key?: string;
  /** pings: send ping traces to this page or not (default not). */
  on?: boolean;
}

export interface HelloMessage {
  type: 'hello';
  protocol: number;
  version: string;
  verbs: readonly Verb[];
  maxMessageBytes: number;
}

export interface ReplyMessage {
  type: 'reply';
  ref?: string | number;
  verb: Verb;
  message: string;
  warning?: string;
  route?: RouteView;
}

export type ErrorCode =
  | 'BAD_JSON'
  | 'BAD_MESSAGE'
  | 'UNKNOWN_VERB'
  | 'TOO_LARGE'
  | 'TOO_MANY'
  | 'INTERNAL'
  | ControlCode;

export interface ErrorMessage {
  type: 'error';
  ref?: string | number;
  code: ErrorCode;
  message: string;
}

export interface TracesMessage {
  type: 'traces';
  items: TraceView[];
  /** Traces this page missed (it fell behind, or a burst was larger than a batch). */
  dropped?: number;
}

export type ServerMessage = HelloMessage | RingState | ReplyMessage | ErrorMessage | TracesMessage;
