// cdht as a library: start peers, whole rings, and the simulated network they can run on.
export { Peer, startPeer } from './peer.js';
export type { IdLike, PeerOptions, PeerLine, PeerSnapshot, PeerExit } from './peer.js';
export { Testnet, createTestnet, REFERENCE_RING } from './testnet.js';
export type { TestnetOptions } from './testnet.js';
export { SimNetwork } from './transport/sim/network.js';
export { createNodeRuntime, DEFAULT_LIMITS } from './transport/node/endpoint.js';
export type { EndpointStats, Limits, NodeRuntimeOptions } from './transport/node/endpoint.js';
export type { Runtime, Endpoint, EndpointHandlers, EndpointOptions, Origin, TlsIdentity } from './transport/types.js';
export { PeerCore } from './core/peer-core.js';
export type { CoreConfig, CoreSnapshot } from './core/peer-core.js';
export type { CoreEvent, Effect } from './core/effects.js';
export type { Message } from './core/messages.js';
export type { Address, Contact, Target } from './core/contact.js';
export { IdSpace, SPEC_SPACE } from './core/id-space.js';
export type { Id } from './core/id-space.js';
export { CdhtError } from './core/errors.js';
export { encodeFrame, decodeFrame, FrameDecoder } from './wire/index.js';
