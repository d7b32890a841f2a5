// GitLab-flavoured Markdown pieces: tables, inline code, Mermaid blocks.

/** A table cell: pipes escaped, line breaks as <br>. */
export function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
}

export function table(headers: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [line(headers), `|${headers.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}

/** Inline code; a backtick inside gets a longer fence. */
export function code(text: string): string {
  const fence = text.includes('`') ? '``' : '`';
  return fence === '``' ? `\`\` ${text} \`\`` : `\`${text}\``;
}

export function mermaidBlock(source: string): string {
  return '```mermaid\n' + source.trimEnd() + '\n```';
}

/** The sources of every ```mermaid block of a page, in order. */
export function mermaidBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```mermaid\n([\s\S]*?)\n```$/gm)].map((m) => m[1]);
}
