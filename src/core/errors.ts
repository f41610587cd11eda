// One catalog of errors with stable codes: every code the package raises, with its meaning, in
// ERROR_CODES below, and one base class, CdhtError. Local misuse (bad arguments, bad commands) is
// told apart from a remote peer's protocol violation (bad bytes on the wire), and both from
// the outcomes of an operation (a name not found, a ring too busy) that a program handles.
// On the wire the same codes serve both sides, so one ProtocolError says whose fault a frame is,
// in two subclasses (h11's LocalProtocolError / RemoteProtocolError): we refused to encode it, or
// a peer sent it.
// A class's `name` is its own and never depends on the code; the message is the sentence
// every surface (CLI line, web page refusal, library rejection) shows, unchanged.
// The codes carry a CDHT_ prefix so they never clash with Node's own ERR_* codes, which a
// stream or file error passing through put/get may carry too.

export type ErrorKind = 'local' | 'remote' | 'outcome';

interface CodeInfo {
  kind: ErrorKind;
  /** What a user or a program should do about it (docs/api.md lists these). */
  hint: string;
  /** The exit status of a one-shot CLI command that ends with this error. */
  exit: number;
}

export const ERROR_CODES = {
  CDHT_ERR_BAD_ARGUMENT: { kind: 'local', exit: 2, hint: 'Fix the argument named in the message.' },
  CDHT_ERR_BAD_COMMAND: { kind: 'local', exit: 2, hint: 'Type Store NAME, Request NAME or Quit.' },
  CDHT_ERR_FRAME_TOO_LARGE: { kind: 'remote', exit: 5, hint: 'A peer sent a frame over the limit; it is dropped. Nothing to do unless it repeats.' },
  CDHT_ERR_FRAME_TRUNCATED: { kind: 'remote', exit: 5, hint: 'A peer closed inside a frame; it is dropped.' },
  CDHT_ERR_BAD_VERSION: { kind: 'remote', exit: 5, hint: 'A peer speaks another wire version; upgrade the older side.' },
  CDHT_ERR_UNKNOWN_TYPE: { kind: 'remote', exit: 5, hint: 'A peer sent a message type this version does not know; upgrade.' },
  CDHT_ERR_BAD_PAYLOAD: { kind: 'remote', exit: 5, hint: 'A peer sent a malformed message; it is dropped.' },
  CDHT_ERR_UNREACHABLE: { kind: 'outcome', exit: 4, hint: 'No answer from that address: check the host and port, and that the peer runs.' },
  /** The peer there answered but will not talk to us: another ring authority, or a private ring reached without --tls. */
  CDHT_ERR_NOT_ADMITTED: { kind: 'local', exit: 4, hint: 'Use a certificate of this ring\'s authority (--tls DIR).' },
  CDHT_ERR_TRANSFER: { kind: 'remote', exit: 5, hint: 'The transfer broke off; try again (another holder may answer).' },
  CDHT_ERR_TLS_SETUP: { kind: 'local', exit: 2, hint: 'The certificate files could not be read: check the --tls directory.' },
  CDHT_ERR_NOT_FOUND: { kind: 'outcome', exit: 3, hint: 'No holder in the ring has this name: check the spelling, or put it first.' },
  CDHT_ERR_NAME: { kind: 'local', exit: 2, hint: 'Use a name the ring allows: four digits in the 8-bit mode; above it up to 255 UTF-8 bytes without slashes or control characters, not starting with a dot.' },
  CDHT_ERR_TOO_LARGE: { kind: 'outcome', exit: 3, hint: 'The file is over a peer\'s --max-file-size: split it, or raise the limit on every peer.' },
  CDHT_ERR_EXISTS: { kind: 'outcome', exit: 3, hint: 'Stored names never change: put under another name.' },
  CDHT_ERR_FORBIDDEN: { kind: 'outcome', exit: 3, hint: 'Only the name\'s publisher may do this.' },
  CDHT_ERR_BUSY: { kind: 'outcome', exit: 4, hint: 'Every holder is serving as many transfers as it may: try again in a few seconds.' },
  CDHT_ERR_INTEGRITY: { kind: 'remote', exit: 5, hint: 'The bytes did not match the stored record (SHA-256); no holder had an intact copy. Nothing was written.' },
  CDHT_ERR_ABORTED: { kind: 'outcome', exit: 130, hint: 'The AbortSignal fired; nothing is left half written.' },
  CDHT_ERR_TIMEOUT: { kind: 'outcome', exit: 4, hint: 'No answer in time: the ring may be repairing; try again, or give a longer timeoutMs.' },
  CDHT_ERR_NOT_IN_RING: { kind: 'outcome', exit: 4, hint: 'The peer is not (or no longer) in a ring: await peer.ready, or connect through another member.' },
  /** A request to a ring controller (the console, the web page) it cannot carry out; ControlError's `reason` says which. */
  CDHT_ERR_CONTROL: { kind: 'outcome', exit: 2, hint: 'Read the sentence: it names what the ring cannot do now and why.' },
  /** A setting out of its range or against another (checkConfig); ConfigError's `field` names it. */
  CDHT_ERR_CONFIG: { kind: 'local', exit: 2, hint: 'Fix the setting named in the message.' },
  /** A peer, a ring or the web page cannot listen at its address (in use, or not this machine's). */
  CDHT_ERR_LISTEN: { kind: 'outcome', exit: 4, hint: 'Something else listens there, or the address is not this machine\'s: choose another port or host.' },
  /** A peer (or a ring's peers) stopped before joining a ring; the message says why. */
  CDHT_ERR_NOT_STARTED: { kind: 'outcome', exit: 4, hint: 'Fix what the message names (an address in use, no answer from the peer to join through) and start it again.' },
  /** The web page's files are missing from this installation. */
  CDHT_ERR_NOT_BUILT: { kind: 'local', exit: 1, hint: 'Run npm run build in the cdht directory.' },
} as const satisfies Record<string, CodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class CdhtError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
  get remote(): boolean {
    return this.kind === 'remote';
  }
  get kind(): ErrorKind {
    return ERROR_CODES[this.code].kind;
  }
  /** What to do about it. */
  get hint(): string {
    return ERROR_CODES[this.code].hint;
  }
  /** The exit status a one-shot CLI command ends with. */
  get exitCode(): number {
    return ERROR_CODES[this.code].exit;
  }
}
CdhtError.prototype.name = 'CdhtError';

/** The wire codes: what a frame can be refused for, whichever side refuses it. */
export type WireErrorCode = 'CDHT_ERR_FRAME_TOO_LARGE' | 'CDHT_ERR_FRAME_TRUNCATED' | 'CDHT_ERR_BAD_VERSION' | 'CDHT_ERR_UNKNOWN_TYPE' | 'CDHT_ERR_BAD_PAYLOAD';

/** Whose fault a refused frame is: ours (we refused to encode or send it) or a peer's (it sent it). */
export type ProtocolSide = 'local' | 'remote';

/** A frame refused on the wire; `side` is its kind, whatever the code's own. */
export class ProtocolError extends CdhtError {
  constructor(
    readonly side: ProtocolSide,
    code: WireErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
  override get kind(): ErrorKind {
    return this.side;
  }
}
ProtocolError.prototype.name = 'ProtocolError';

type SidedArgs = [code: WireErrorCode, message: string, options?: { cause?: unknown }];

/** We refuse to encode or send a frame: a bug of ours or of our caller, never the peer's. */
export class LocalProtocolError extends ProtocolError {
  declare readonly side: 'local';
  constructor(...args: SidedArgs) {
    super('local', ...args);
  }
}
LocalProtocolError.prototype.name = 'LocalProtocolError';

/** A peer sent a frame we refuse; the shell logs it and drops the frame (or the connection). */
export class RemoteProtocolError extends ProtocolError {
  declare readonly side: 'remote';
  constructor(...args: SidedArgs) {
    super('remote', ...args);
  }
}
RemoteProtocolError.prototype.name = 'RemoteProtocolError';

export function isErrorCode(x: unknown): x is ErrorCode {
  return typeof x === 'string' && Object.hasOwn(ERROR_CODES, x);
}
