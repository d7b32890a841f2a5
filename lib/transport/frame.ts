// Finding the end of a command's output in the byte stream of the persistent
// shell, in linear time: each chunk is searched once (plus a few bytes of
// overlap with the previous one) and the chunks are joined once, when the
// frame is complete. Joining and searching everything on every chunk (as a
// first version did) is quadratic: 64 MiB of output took over a minute and
// stalled the event loop for every other host.

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

  constructor(private readonly needle: Buffer) {}

  get length(): number {
    return this.size;
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
