// Who a peer is and where it listens: an id on the ring plus an address, so that peers on
// other hosts are a matter of configuration, not of rewriting the protocol.

export const RING_SIZE = 256;
export const DEFAULT_BASE_PORT = 12000;
export const DEFAULT_HOST = '127.0.0.1';

export interface Contact {
  readonly id: number;
  readonly host: string;
  readonly port: number;
}

/** The reference layout: peer `id` listens on TCP and UDP port `basePort + id`. */
export function defaultContact(id: number, host: string = DEFAULT_HOST, basePort: number = DEFAULT_BASE_PORT): Contact {
  return { id, host, port: basePort + id };
}

export function isPeerId(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n < RING_SIZE;
}

export function sameContact(a: Contact | undefined, b: Contact | undefined): boolean {
  return !!a && !!b && a.id === b.id && a.host === b.host && a.port === b.port;
}
