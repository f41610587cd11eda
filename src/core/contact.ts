// Who a peer is and where it can be reached: an id on the ring plus an address. The shell hands
// contacts in (from the command line, a join, a message); the core never builds an address.
import type { Id } from './id-space.js';

export interface Address {
  readonly host: string;
  readonly port: number;
}

export interface Contact extends Address {
  readonly id: Id;
}

/** Where a message goes: an address, with the id of the peer there when it is known. */
export type Target = Address & { readonly id?: Id };

export function sameAddress(a: Address | undefined, b: Address | undefined): boolean {
  return !!a && !!b && a.port === b.port && a.host === b.host;
}

export function sameContact(a: Contact | undefined, b: Contact | undefined): boolean {
  return !!a && !!b && a.id === b.id && sameAddress(a, b);
}

/** host:port, with IPv6 hosts in brackets. */
export function formatAddress(a: Address): string {
  return `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

/** Loopback addresses: a peer on this host may reach us from any of them. */
export function isLoopback(host: string): boolean {
  return host === '::1' || host.startsWith('127.') || host.startsWith('::ffff:127.');
}

/** A host as a connection reports it: an IPv4 address mapped into IPv6 is the IPv4 address. */
export function plainHost(host: string): string {
  return host.startsWith('::ffff:') && host.includes('.') ? host.slice('::ffff:'.length) : host;
}

/** Whether two hosts are one machine as far as an open ring can tell (any two loopback addresses are). */
export function sameHost(a: string, b: string): boolean {
  const x = plainHost(a);
  const y = plainHost(b);
  return x === y || (isLoopback(x) && isLoopback(y));
}
