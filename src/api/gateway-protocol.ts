// What the HTTP gateway and its client agree on: routes, the status of each error code, and the
// JSON form of the API's results (bigints as decimal strings). Pure: no sockets, no node:*.
//   GET /v1/health -> {ok:true}        PUT /v1/files/NAME[?copies=N] (body: the bytes) -> 201 PutResult
//   GET /v1/files/NAME -> the bytes, content-length and x-cdht-sha256 from the record
//   GET /v1/stat/NAME -> FileStat      GET /v1/lookup/KEY (decimal) -> LookupResult
//   errors: {code: 'CDHT_ERR_...', message} with statusOf(code); names percent-encoded in the path
import { CdhtError, isErrorCode, type ErrorCode } from '../core/errors.js';
import type { ApiContact, FileStat, LookupResult, PutResult } from './types.js';

export const API_PREFIX = '/v1';
export const SHA256_HEADER = 'x-cdht-sha256';
/** Replica counts a put may ask for; a ring keeps far fewer copies than this. */
export const MAX_COPIES = 64;
/** Ids and keys go up to 160 bits: 49 decimal digits. */
const MAX_KEY_DIGITS = 49;

export type Route =
  | { kind: 'health' }
  | { kind: 'put'; name: string }
  | { kind: 'get'; name: string }
  | { kind: 'delete'; name: string }
  | { kind: 'stat'; name: string }
  | { kind: 'lookup'; key: bigint };

/** `nginx`'s "client closed request": the caller went away, nobody reads this status. */
export const STATUS_ABORTED = 499;

const STATUS: Partial<Record<ErrorCode, number>> = {
  CDHT_ERR_NOT_FOUND: 404,
  CDHT_ERR_EXISTS: 409,
  CDHT_ERR_TOO_LARGE: 413,
  CDHT_ERR_FORBIDDEN: 403,
  CDHT_ERR_NOT_ADMITTED: 403,
  CDHT_ERR_NAME: 400,
  CDHT_ERR_BAD_ARGUMENT: 400,
  CDHT_ERR_BAD_COMMAND: 400,
  CDHT_ERR_BUSY: 503,
  CDHT_ERR_NOT_IN_RING: 503,
  CDHT_ERR_TIMEOUT: 504,
  CDHT_ERR_ABORTED: STATUS_ABORTED,
};

/** The HTTP status an error code is answered with (502: the ring behind the gateway failed us). */
export function statusOf(code: ErrorCode): number {
  return STATUS[code] ?? (code === 'CDHT_ERR_TLS_SETUP' ? 500 : 502);
}

export const fileRoute = (name: string): string => `${API_PREFIX}/files/${encodeURIComponent(name)}`;
export const statRoute = (name: string): string => `${API_PREFIX}/stat/${encodeURIComponent(name)}`;
export const lookupRoute = (key: bigint): string => `${API_PREFIX}/lookup/${key.toString()}`;
export const HEALTH_ROUTE = `${API_PREFIX}/health`;

function decodeName(segment: string): string {
  let name: string;
  try {
    name = decodeURIComponent(segment);
  } catch {
    throw new CdhtError('CDHT_ERR_NAME', 'the name in the path is not valid percent-encoded UTF-8');
  }
  if (name.length === 0) throw new CdhtError('CDHT_ERR_NAME', 'the name is empty');
  return name;
}

export function parseKey(text: string): bigint {
  if (!/^\d+$/.test(text) || text.length > MAX_KEY_DIGITS) throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', `a key is a decimal integer of at most ${MAX_KEY_DIGITS} digits`);
  return BigInt(text);
}

/** The route a request's method and path (without the query) name; undefined for none; a CdhtError for a bad name or key. */
export function parseRoute(method: string, path: string): Route | undefined {
  const m = /^\/v1\/(files|stat|lookup|health)(?:\/([^/]*))?$/.exec(path);
  const kind = m?.[1];
  const arg = m?.[2];
  if (kind === 'health' && arg === undefined && method === 'GET') return { kind: 'health' };
  if (kind === 'files' && arg !== undefined && (method === 'GET' || method === 'PUT' || method === 'DELETE')) {
    return { kind: method === 'PUT' ? 'put' : method === 'DELETE' ? 'delete' : 'get', name: decodeName(arg) };
  }
  if (kind === 'stat' && arg !== undefined && method === 'GET') return { kind: 'stat', name: decodeName(arg) };
  if (kind === 'lookup' && arg !== undefined && method === 'GET') return { kind: 'lookup', key: parseKey(arg) };
  return undefined;
}

/** `?copies=N`, checked; undefined when absent. */
export function parseCopies(value: string | null): number | undefined {
  if (value === null) return undefined;
  const n = /^\d{1,3}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= MAX_COPIES)) throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', `copies must be an integer from 1 to ${MAX_COPIES}`);
  return n;
}

/** JSON with bigints as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

export function errorBody(err: CdhtError): string {
  return toJson({ code: err.code, message: err.message });
}

/** The CdhtError an error response carries; a body that names no code of ours gets one from the status. */
export function errorFromResponse(status: number, body: unknown): CdhtError {
  const o = body as { code?: unknown; message?: unknown } | null;
  const message = typeof o?.message === 'string' ? o.message : `the gateway answered HTTP ${status}`;
  if (isErrorCode(o?.code)) return new CdhtError(o.code, message);
  const code: ErrorCode = status === 404 ? 'CDHT_ERR_NOT_FOUND' : status === 503 ? 'CDHT_ERR_BUSY' : status === 504 ? 'CDHT_ERR_TIMEOUT' : 'CDHT_ERR_BAD_PAYLOAD';
  return new CdhtError(code, message);
}

// ---- decoding results (the client trusts no gateway's JSON) ----------------------------------

const bad = (what: string): CdhtError => new CdhtError('CDHT_ERR_BAD_PAYLOAD', `the gateway sent a malformed ${what}`);
type Obj = Record<string, unknown>;

function obj(v: unknown, what: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(what);
  return v as Obj;
}
function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw bad(what);
  return v;
}
function int(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(what);
  return v;
}
function big(v: unknown, what: string): bigint {
  if (typeof v !== 'string' || !/^\d{1,49}$/.test(v)) throw bad(what);
  return BigInt(v);
}
/** A gateway lists a handful of holders; far more is not a ring's answer. */
const MAX_CONTACTS = 1024;
function contacts(v: unknown, what: string): ApiContact[] {
  if (!Array.isArray(v) || v.length > MAX_CONTACTS) throw bad(what);
  return v.map((c) => contact(c, what));
}
function ids(v: unknown, what: string): bigint[] {
  if (!Array.isArray(v) || v.length > MAX_CONTACTS) throw bad(what);
  return v.map((x) => big(x, what));
}
function contact(v: unknown, what: string): ApiContact {
  const o = obj(v, what);
  return { id: big(o['id'], what), host: str(o['host'], what), port: int(o['port'], what) };
}

export function decodePutResult(v: unknown): PutResult {
  const w = 'put result';
  const o = obj(v, w);
  return { name: str(o['name'], w), key: big(o['key'], w), size: int(o['size'], w), sha256: str(o['sha256'], w), holders: contacts(o['holders'], w), hops: int(o['hops'], w) };
}

export function decodeFileStat(v: unknown): FileStat {
  const w = 'file record';
  const o = obj(v, w);
  return { name: str(o['name'], w), key: big(o['key'], w), size: int(o['size'], w), sha256: str(o['sha256'], w), holders: contacts(o['holders'], w) };
}

export function decodeLookupResult(v: unknown): LookupResult {
  const w = 'lookup result';
  const o = obj(v, w);
  const path = o['path'] === undefined ? [] : ids(o['path'], w);
  return { key: big(o['key'], w), owner: contact(o['owner'], w), hops: int(o['hops'], w), successors: contacts(o['successors'], w), path };
}
