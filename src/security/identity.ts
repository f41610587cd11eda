// What a ring's certificates are made of, and how a peer id is written in one. No crypto here:
// this is the vocabulary shared by the authority (ca.ts), the files (ca-files.ts) and TLS (tls.ts).
import { CdhtError } from '../core/errors.js';

/** Peer ids in a private ring are up to 160 bits (the ids of the wider id space to come). */
export const PEER_ID_BITS = 160;
export const MAX_PEER_ID = (1n << BigInt(PEER_ID_BITS)) - 1n;
/** 2^160 - 1 has 49 decimal digits. */
const MAX_ID_DIGITS = MAX_PEER_ID.toString().length;
const CN_PREFIX = 'cdht peer ';
export const DEFAULT_AUTHORITY_NAME = 'cdht ring authority';
/** RFC 5280's upper bound for a common name. */
export const MAX_NAME_CHARS = 64;
export const DEFAULT_AUTHORITY_DAYS = 3650;
export const DEFAULT_PEER_DAYS = 825;
/** About a hundred years: beyond that a typo is likelier than a plan. */
export const MAX_DAYS = 36_500;

/** The ring's certificate authority: a PKCS#8 private key PEM and its self-signed certificate PEM. */
export interface RingAuthority {
  keyPem: string;
  certPem: string;
}

/** One peer's PKCS#8 private key PEM and its certificate PEM, signed by the ring's authority. */
export interface PeerCredentials {
  keyPem: string;
  certPem: string;
}

/** Everything a peer needs to speak mutual TLS in its ring. */
export interface TlsIdentity {
  id: bigint;
  keyPem: string;
  certPem: string;
  /** The authority's certificate: the only one trusted. */
  caPem: string;
}

/** A set-up problem: a file missing, unreadable, or not what the ring needs. Always one line. */
export class TlsSetupError extends CdhtError {
  override readonly code = 'CDHT_ERR_TLS_SETUP' as const;
  constructor(message: string) {
    super('CDHT_ERR_TLS_SETUP', message);
  }
}
TlsSetupError.prototype.name = 'TlsSetupError';

export function isPeerId(id: bigint): boolean {
  return id >= 0n && id <= MAX_PEER_ID;
}

/** A programmer error: ids reaching this far have been checked where they were typed. */
export function assertPeerId(id: bigint): void {
  if (typeof id !== 'bigint' || !isPeerId(id)) {
    throw new RangeError(`a peer id must be an integer from 0 to 2^${PEER_ID_BITS}-1 (got ${String(id)})`);
  }
}

/** The subject common name of peer `id`'s certificate: 'cdht peer <decimal id>'. */
export function peerCommonName(id: bigint): string {
  assertPeerId(id);
  return `${CN_PREFIX}${id.toString(10)}`;
}

/**
 * The id a common name stands for, or undefined. Strict, so that one id has exactly one name:
 * decimal digits only, no sign, no spaces, no leading zeros (except "0"), below 2^160.
 */
export function peerIdFromCommonName(cn: string | undefined): bigint | undefined {
  if (typeof cn !== 'string' || !cn.startsWith(CN_PREFIX)) return undefined;
  return parseDecimalPeerId(cn.slice(CN_PREFIX.length));
}

/** A decimal peer id as typed or as named in a certificate; undefined unless canonical and in range. */
export function parseDecimalPeerId(text: string): bigint | undefined {
  if (text.length > MAX_ID_DIGITS || !/^(0|[1-9][0-9]*)$/.test(text)) return undefined;
  const id = BigInt(text);
  return isPeerId(id) ? id : undefined;
}
