// Private rings: the ring authority, peer certificates on disk, and what the TLS transport needs.
export * from './ca.js';
export * from './tls.js';
export * from './origin-proofs.js';
