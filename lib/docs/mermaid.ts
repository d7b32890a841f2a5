// A small builder for Mermaid flowcharts: ids made safe and unique from any
// key, labels escaped with Mermaid's entity codes, so inventory names can
// never break a diagram's syntax.

export type Shape = 'box' | 'round' | 'cylinder' | 'stadium' | 'hexagon' | 'subroutine';

const OPEN: Record<Shape, [string, string]> = {
  box: ['[', ']'],
  round: ['(', ')'],
  cylinder: ['[(', ')]'],
  stadium: ['([', '])'],
  hexagon: ['{{', '}}'],
  subroutine: ['[[', ']]'],
};

/** A Mermaid node id for a key: letters, digits and "_" only (keys carry a kind prefix such as "srv:", so an id is never a keyword like "end"). */
export function safeId(key: string): string {
  return key.replace(/[^A-Za-z0-9_]/g, '_');
}

/** One line of a label: Mermaid's entity codes for what its parser would read as syntax. */
export function escapeLabel(text: string): string {
  return text
    .replace(/#/g, '#35;')
    .replace(/&/g, '#amp;')
    .replace(/</g, '#lt;')
    .replace(/>/g, '#gt;')
    .replace(/"/g, '#quot;')
    .replace(/\|/g, '#124;')
    .replace(/[\r\n]+/g, ' ');
}

export class Flowchart {
  private lines: string[] = [];
  private ids = new Map<string, string>();
  private used = new Set<string>();
  private indent = '  ';

  constructor(private direction: 'LR' | 'TB' = 'LR') {}

  /** The id of a key (the same key always gets the same id). */
  id(key: string): string {
    let id = this.ids.get(key);
    if (!id) {
      const base = safeId(key);
      id = base;
      for (let n = 2; this.used.has(id); n++) id = `${base}_${n}`;
      this.ids.set(key, id);
      this.used.add(id);
    }
    return id;
  }

  has(key: string): boolean {
    return this.ids.has(key);
  }

  /** A node; label lines are joined with <br/>. */
  node(key: string, label: string[], shape: Shape = 'box', cls?: string): this {
    const [open, close] = OPEN[shape];
    this.lines.push(`${this.indent}${this.id(key)}${open}"${label.map(escapeLabel).join('<br/>')}"${close}${cls ? `:::${cls}` : ''}`);
    return this;
  }

  edge(from: string, to: string, label?: string, style: 'solid' | 'dotted' | 'thick' = 'solid'): this {
    const arrow = { solid: '-->', dotted: '-.->', thick: '==>' }[style];
    this.lines.push(`${this.indent}${this.id(from)} ${arrow}${label ? `|"${escapeLabel(label)}"|` : ''} ${this.id(to)}`);
    return this;
  }

  subgraph(key: string, title: string, body: () => void): this {
    this.lines.push(`${this.indent}subgraph ${this.id(key)}["${escapeLabel(title)}"]`);
    const outer = this.indent;
    this.indent += '  ';
    body();
    this.indent = outer;
    this.lines.push(`${this.indent}end`);
    return this;
  }

  classDef(name: string, css: string): this {
    this.lines.push(`${this.indent}classDef ${name} ${css}`);
    return this;
  }

  toString(): string {
    return [`flowchart ${this.direction}`, ...this.lines].join('\n');
  }
}
