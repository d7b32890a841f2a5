// Finding the end of a command's output in the byte stream of the persistent
// shell, in linear time: each chunk is searched once (plus a few bytes of
// overlap with the previous one) and the chunks are joined once, when the
// frame is complete. Joining and searching everything on every chunk (as a
// first version did) is quadratic: 64 MiB of output took over a minute and
// stalled the event loop for every other host.

import { StringDecoder } from 'node:string_decoder';

export interface CompleteFrame {
  /** everything before the end marker */
  body: Buffer;
  /** the rest of the end marker's line (e.g. the exit code), without the newline */
  line: string;
  /** bytes that arrived after the marker's line (normally none) */
  rest: Buffer;
}

export class FrameReader {
  private chunks: Buffer[] = [];
  private size = 0;
  /** the last needle.length - 1 bytes searched, for a needle split across two chunks */
  private carry = Buffer.alloc(0);
  /** absolute offset of the needle, once seen */
  private hit = -1;
  /** bytes after the needle (its line is short) */
  private after: Buffer[] = [];

  constructor(readonly needle: Buffer) {}

  get length(): number {
    return this.size;
  }

  /** whether the needle has arrived (its line may still be incomplete) */
  get found(): boolean {
    return this.hit >= 0;
  }

  push(d: Buffer): void {
    this.chunks.push(d);
    this.size += d.length;
    if (this.hit >= 0) {
      this.after.push(d);
      return;
    }
    const hay = this.carry.length ? Buffer.concat([this.carry, d]) : d;
    const base = this.size - hay.length;
    const i = hay.indexOf(this.needle);
    if (i >= 0) {
      this.hit = base + i;
      this.after = [hay.subarray(i + this.needle.length)];
      return;
    }
    const keep = Math.min(this.needle.length - 1, hay.length);
    this.carry = Buffer.from(hay.subarray(hay.length - keep));
  }

  /** The frame, once the needle and the end of its line have arrived. */
  complete(): CompleteFrame | undefined {
    if (this.hit < 0) return undefined;
    const after = this.after.length === 1 ? this.after[0] : Buffer.concat(this.after);
    this.after = [after];
    const nl = after.indexOf(0x0a);
    if (nl < 0) return undefined;
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size);
    const lineStart = this.hit + this.needle.length;
    return { body: all.subarray(0, this.hit), line: all.subarray(lineStart, lineStart + nl).toString('latin1'), rest: all.subarray(lineStart + nl + 1) };
  }

  /** The first bytes that arrived (for the process id line at the start of a frame). */
  head(max: number): Buffer {
    const parts: Buffer[] = [];
    let n = 0;
    for (const c of this.chunks) {
      parts.push(c);
      n += c.length;
      if (n >= max) break;
    }
    return (parts.length === 1 ? parts[0] : Buffer.concat(parts)).subarray(0, max);
  }
}

/**
 * Hands on the body of a frame while it arrives (RunOptions.onOutput),
 * without waiting for the end marker. Bytes at the end that could be the
 * start of the marker are held back (at most the marker's leading newline,
 * in practice: a line's own newline waits for the next output) and, once the
 * marker is found, nothing more is streamed: finish() sends what is left of
 * the body, so the streamed text is exactly the final RunResult's. A first
 * line starting with `skipLine` (the process id line) is left out, as the
 * result leaves it out.
 */
export class BodyStream {
  private held: Buffer = Buffer.alloc(0);
  /** body bytes handed on so far (after the skipped line) */
  private sent = 0;
  private headKnown: boolean;
  private readonly decoder = new StringDecoder('utf8');

  constructor(
    private readonly needle: Buffer,
    private readonly emit: (text: string) => void,
    private readonly skipLine?: Buffer,
  ) {
    this.headKnown = !skipLine;
  }

  /** A chunk of the stream; `markerSeen`: the reader has found the end marker (the rest comes with finish()). */
  push(d: Buffer, markerSeen: boolean): void {
    if (markerSeen && this.headKnown) return;
    this.held = this.held.length ? Buffer.concat([this.held, d]) : d;
    if (!this.headKnown) {
      const p = this.skipLine!;
      const nl = this.held.indexOf(0x0a);
      const starts = this.held.subarray(0, Math.min(p.length, this.held.length)).equals(p.subarray(0, Math.min(p.length, this.held.length)));
      if (starts && nl < 0) return;
      this.headKnown = true;
      if (starts && this.held.length >= p.length) this.held = this.held.subarray(nl + 1);
    }
    if (markerSeen) return;
    const n = this.held.length - this.markerStart();
    if (n <= 0) return;
    this.send(this.held.subarray(0, n));
    this.held = Buffer.from(this.held.subarray(n));
  }

  /** Length of the longest end of what is held that is a beginning of the marker. */
  private markerStart(): number {
    for (let k = Math.min(this.needle.length - 1, this.held.length); k > 0; k--) {
      if (this.held.subarray(this.held.length - k).equals(this.needle.subarray(0, k))) return k;
    }
    return 0;
  }

  /** The frame is complete: hand on the rest of its body. */
  finish(body: Buffer): void {
    if (this.sent < body.length) this.send(body.subarray(this.sent));
    const tail = this.decoder.end();
    if (tail) this.say(tail);
  }

  private send(bytes: Buffer): void {
    this.sent += bytes.length;
    const text = this.decoder.write(bytes);
    if (text) this.say(text);
  }

  /** A listener that throws must not break the shell's framing. */
  private say(text: string): void {
    try {
      this.emit(text);
    } catch {
      // ignored: progress display only
    }
  }
}
