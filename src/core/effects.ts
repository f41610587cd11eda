// What the core is fed (events) and what it asks its shell to do (effects). Times are
// milliseconds on the shell's clock, passed in as `now`; the core never reads a clock.
import type { Contact, Target } from './contact.js';
import type { FileBegin, Message } from './messages.js';
import type { Trace } from './trace.js';

export type CoreEvent =
  | { type: 'start'; now: number }
  | { type: 'timer'; name: string; now: number }
  | { type: 'receive'; msg: Message; now: number }
  | { type: 'send-failed'; to: Target; msg: Message; error: string; now: number }
  | { type: 'command'; line: string; now: number }
  /** Progress of a serve-file effect (owner side of a request). */
  | { type: 'serve-progress'; file: string; rid: number; to: Contact; phase: 'start' | 'missing' | 'sent' | 'failed'; error?: string; now: number }
  /** Progress of a push-file effect (origin side of a store). */
  | { type: 'push-progress'; file: string; to: Contact; phase: 'start' | 'missing' | 'sent' | 'failed'; error?: string; now: number }
  /** A peer opened a file transfer to us; the core answers with accept-file or nothing (refused). */
  | { type: 'file-offer'; header: FileBegin; now: number }
  | { type: 'file-done'; header: FileBegin; ok: boolean; error?: string; now: number };

export type Effect =
  /** What happened, for people (rendered as lines) and programs (the console, --json, the web page). */
  | { kind: 'trace'; trace: Trace }
  | { kind: 'send'; to: Target; msg: Message; transport: 'udp' | 'tcp' }
  | { kind: 'set-timer'; name: string; at: number }
  | { kind: 'cancel-timer'; name: string }
  /** Owner side of a request: stat NNNN.pdf, stream it to `to` (or only report, when `to` is us). */
  | { kind: 'serve-file'; file: string; rid: number; to: Contact }
  /** Origin side of a store: copy NNNN.pdf, if we have it, to the owner. */
  | { kind: 'push-file'; file: string; to: Contact }
  /** Answer to a file-offer: write the incoming file under this name in the data directory. */
  | { kind: 'accept-file'; saveAs: string }
  /** The peer is part of a ring (init: at start; join: once accepted). */
  | { kind: 'ready' }
  /** Successors or predecessors changed (for reporters). */
  | { kind: 'neighbours' }
  | { kind: 'exit'; code: number; reason: string };
