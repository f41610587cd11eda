// What a surface (the web server) needs of a ring: its state and traces as events, and the verbs
// it may carry out. A RingController (peers in this process) is one; a RemoteRing (a ring walked
// over the protocol, `cdht web --peer`) is another, which refuses what it cannot do with a
// ControlError, the same way the controller refuses a bad request.
import type { ControlResult } from './ring-controller.js';
import type { RingState, RouteView, TraceView } from './view-types.js';

export interface RingSource {
  /** Verbs it carries out (undefined: every one); the page offers only these. */
  readonly verbs?: readonly string[];
  state(): RingState;
  on(event: 'state', listener: (s: RingState) => void): unknown;
  on(event: 'trace', listener: (t: TraceView) => void): unknown;
  off(event: 'state', listener: (s: RingState) => void): unknown;
  off(event: 'trace', listener: (t: TraceView) => void): unknown;
  start(): Promise<ControlResult>;
  stop(): Promise<ControlResult>;
  add(idText: unknown): Promise<ControlResult>;
  join(idText: unknown, viaText?: unknown): Promise<ControlResult>;
  store(idText: unknown, fileText: unknown): ControlResult;
  request(idText: unknown, fileText: unknown): ControlResult;
  quit(idText: unknown): Promise<ControlResult>;
  kill(idText: unknown): Promise<ControlResult>;
  routes(keyText: unknown, fromText?: unknown): RouteView;
}
