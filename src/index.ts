// cdht as a library: start peers, whole rings, and the simulated network they can run on.
export { Peer, startPeer } from './peer.js';
export type { PeerOptions, PeerLine, PeerSnapshot, PeerExit } from './peer.js';
export { Testnet, createTestnet, REFERENCE_RING } from './testnet.js';
export type { TestnetOptions } from './testnet.js';
export { SimNetwork } from './runtime/sim.js';
export { createNodeRuntime } from './runtime/node.js';
export type { Runtime, Endpoint, EndpointHandlers } from './runtime/types.js';
export { PeerCore } from './core/peer-core.js';
export type { CoreConfig, CoreSnapshot } from './core/peer-core.js';
export type { CoreEvent, Effect } from './core/effects.js';
export type { Message } from './core/messages.js';
export type { Contact } from './core/contact.js';
export { keyOf, ownerOf } from './core/ring.js';
export { CdhtError } from './core/errors.js';
export { encodeFrame, decodeFrame, FrameDecoder } from './core/codec.js';
