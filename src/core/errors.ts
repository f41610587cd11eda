// One catalog of errors with stable codes. Local misuse (bad arguments, bad commands) is
// told apart from a remote peer's protocol violation (bad bytes on the wire).

export const ERROR_CODES = {
  CDHT_ERR_BAD_ARGUMENT: 'local',
  CDHT_ERR_BAD_COMMAND: 'local',
  CDHT_ERR_FRAME_TOO_LARGE: 'remote',
  CDHT_ERR_FRAME_TRUNCATED: 'remote',
  CDHT_ERR_BAD_VERSION: 'remote',
  CDHT_ERR_UNKNOWN_TYPE: 'remote',
  CDHT_ERR_BAD_PAYLOAD: 'remote',
  CDHT_ERR_UNREACHABLE: 'local',
  /** The peer there answered but will not talk to us: another ring authority, or a private ring reached without --tls. */
  CDHT_ERR_NOT_ADMITTED: 'local',
  CDHT_ERR_TRANSFER: 'remote',
  CDHT_ERR_TLS_SETUP: 'local',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class CdhtError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = ERROR_CODES[code] === 'remote' ? 'RemoteProtocolError' : 'LocalProtocolError';
  }
  get remote(): boolean {
    return ERROR_CODES[this.code] === 'remote';
  }
}
