// A terminal screen for tests of the live status block: it applies the
// writes (text, \n, \r and the two ANSI sequences the block uses: cursor up
// `ESC[nA` and erase to the end of the screen `ESC[J`) and shows the lines
// that would be on the screen. Any other escape sequence is an error, so a
// test notices output this screen cannot judge.
export class FakeTerminal {
  lines: string[] = [''];
  row = 0;
  col = 0;
  writes: string[] = [];

  readonly write = (text: string): void => {
    this.writes.push(text);
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (ch === '\x1b') {
        const m = new RegExp(`^${ch}\\[(\\d*)([AJ])`).exec(text.slice(i));
        if (!m) throw new Error(`unexpected escape sequence ${JSON.stringify(text.slice(i, i + 8))}`);
        if (m[2] === 'A') this.row = Math.max(0, this.row - Number(m[1] || 1));
        else {
          this.lines[this.row] = this.lines[this.row].slice(0, this.col);
          this.lines.length = this.row + 1;
        }
        i += m[0].length - 1;
      } else if (ch === '\n') {
        this.row++;
        this.col = 0;
        if (this.lines.length <= this.row) this.lines.push('');
      } else if (ch === '\r') {
        this.col = 0;
      } else {
        const line = this.lines[this.row];
        this.lines[this.row] = line.slice(0, this.col).padEnd(this.col) + ch + line.slice(this.col + 1);
        this.col++;
      }
    }
  };

  /** the screen's lines, without the empty one the cursor sits on */
  get screen(): string[] {
    const l = [...this.lines];
    while (l.length && l[l.length - 1] === '') l.pop();
    return l;
  }
}
