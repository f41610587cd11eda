// The wire format: frames in, messages out, and back.
export { decodeFrame, encodeFrame, FILE_CHUNK_BYTES, MAX_FRAME_BYTES, WIRE_VERSION } from './codec.js';
export type { Decoded, WireVersion } from './codec.js';
export { FrameDecoder } from './frame-decoder.js';
