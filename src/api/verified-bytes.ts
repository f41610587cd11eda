// The bookkeeping of a get that streams bytes before they are verified: the file may come from
// several sources in turn (a holder's transfer as it fills, another holder's after the first broke,
// the file a finished transfer left), each read from its first byte. What was handed on already is
// skipped in the next source, which must agree with it; the last bytes are held back until the
// whole source has matched the record, so a stream never ends on bytes that were not checked.
import { createHash, type Hash } from 'node:crypto';
import { CdhtError } from '../core/errors.js';

export class VerifiedBytes {
  /** Bytes handed on so far, and their SHA-256 (known once a source has read past them). */
  private handed = 0;
  private handedDigest: Buffer | undefined;
  /** Read from the current source but not handed on yet: the bytes right after `handed`. */
  private held: Uint8Array | undefined;
  /**
   * The current source: bytes read from it, and one running SHA-256 of its bytes up to the
   * smaller of `pos` and `handed`: what was handed on, checked, or what is handed on now (the held
   * bytes join only a copy of it), so each byte is hashed once.
   */
  private pos = 0;
  private hash: Hash = createHash('sha256');
  /** Set once the bytes handed on are known to be wrong: no source can put that right. */
  broken = false;

  constructor(private readonly name: string) {}

  get handedOn(): number {
    return this.handed;
  }
  /** Bytes read from the current source (for progress). */
  get read(): number {
    return this.pos;
  }

  /** A new source begins at byte 0: what was held back is dropped (the new source has it again). */
  restart(): void {
    // a source that read past what was handed on knows its hash; one that broke before keeps the last one's
    if (this.handed > 0 && this.pos >= this.handed) this.handedDigest = this.hash.copy().digest();
    this.pos = 0;
    this.hash = createHash('sha256');
    this.held = undefined;
  }

  /** The next bytes of the current source; returns the bytes now safe to hand on (those held back until now), if any. */
  take(chunk: Uint8Array): Uint8Array | undefined {
    let rest = chunk;
    if (this.pos < this.handed) {
      const n = Math.min(rest.length, this.handed - this.pos);
      this.hash.update(rest.subarray(0, n));
      this.pos += n;
      rest = rest.subarray(n);
      if (this.pos === this.handed && !this.hash.copy().digest().equals(this.handedDigest!)) throw this.fail(`the bytes of ${this.name} from another holder differ from those already streamed`);
      if (rest.length === 0) return undefined;
    }
    this.pos += rest.length;
    const out = this.held;
    this.held = rest;
    if (out) this.hand(out);
    return out;
  }

  /**
   * Whether the current source is the whole file of the record (`size` bytes hashing to `sha256`),
   * agreeing with what was handed on. When it is, `last()` gives the bytes held back.
   */
  matches(size: number, sha256: Uint8Array | undefined): boolean {
    if (this.handed > size) throw this.fail(`more bytes of ${this.name} were streamed than the ${size} of its record`);
    if (this.pos !== size) return false;
    if (!sha256) return true;
    const whole = this.hash.copy();
    if (this.held) whole.update(this.held);
    return whole.digest().equals(Buffer.from(sha256));
  }

  /** The bytes held back, handed on now (after `matches`). */
  last(): Uint8Array | undefined {
    const out = this.held;
    this.held = undefined;
    if (out) this.hand(out);
    return out;
  }

  /** The error of a source that does not match the record (not the streamed bytes: another source may). */
  mismatch(where: string): CdhtError {
    return new CdhtError('CDHT_ERR_INTEGRITY', `the bytes of ${this.name} ${where} do not match its record (sha256)`);
  }

  private hand(bytes: Uint8Array): void {
    this.handed += bytes.length;
    this.hash.update(bytes);
  }

  private fail(what: string): CdhtError {
    this.broken = true;
    return new CdhtError('CDHT_ERR_INTEGRITY', `${what}: the stream cannot go on`);
  }
}
