// The wire format: frames in, messages out, and back; link frames for the transport's own use.
export { decodeBytes, decodeFrame, encodeFrame, fileDataHeader, FILE_CHUNK_BYTES, MAX_FRAME_BYTES, messageCode, WIRE_VERSION } from './codec.js';
export { HEADER_BYTES } from './primitives.js';
export { proofContent } from './origin-proof.js';
export type { Decoded, WireVersion } from './codec.js';
export { FrameDecoder, FrameSplitter } from './frame-decoder.js';
export type { FrameSink, SplitterLimits } from './frame-decoder.js';
export {
  decodeLink,
  decodeSealed,
  encodeLink,
  encodeSealedHeader,
  frameCode,
  isLinkCode,
  KEY_ID_BYTES,
  LINK_CODES,
  SEALED_HEADER_BYTES,
  TAG_BYTES,
} from './link.js';
export type { LinkDecoded, LinkFrame, SealedParts } from './link.js';
