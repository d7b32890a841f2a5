// Test inventories for the docs page (shaped like production, with the docs
// block proposed for inventory/hosts.toml), Mermaid's own parser in Node,
// and the page rendered to HTML the way a wiki shows it.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JSDOM } from 'jsdom';
import { marked, type Tokens } from 'marked';
import { loadInventory, type Inventory } from '../../../lib/inventory/load.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/docs/', import.meta.url));

/** The production-shaped inventory with the docs block appended, plus `extra` TOML. */
export async function productionLikeText(extra = ''): Promise<string> {
  const base = await readFile(join(FIXTURES, 'production-like.toml'), 'utf8');
  const block = await readFile(join(FIXTURES, 'hosts-docs-block.toml'), 'utf8');
  return `${base}\n${block}\n${extra}`;
}

/** Writes the text to a temp inventory and loads it offline (secrets unresolved). */
export async function loadText(text: string, name = 'hosts.toml'): Promise<Inventory> {
  const dir = await mkdtemp(join(tmpdir(), 'rigger-docs-'));
  const path = join(dir, name);
  await writeFile(path, text);
  return loadInventory(path, { resolveSecrets: false, warn: () => {} });
}

let mermaidModule: Promise<{ parse(text: string): Promise<unknown> }> | undefined;

/** Mermaid's own parser (it needs a DOM for its sanitizer: jsdom). Throws on a syntax error. */
export async function mermaidParse(source: string): Promise<unknown> {
  mermaidModule ??= (async () => {
    const dom = new JSDOM('<!doctype html><html><body></body></html>');
    const g = globalThis as Record<string, unknown>;
    g.window ??= dom.window;
    g.document ??= dom.window.document;
    return (await import('mermaid')).default;
  })();
  return (await mermaidModule).parse(source);
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The page as HTML: GitLab-flavoured tables, Mermaid blocks as <pre class="mermaid"> for mermaid.run(). */
export async function pageHtml(markdown: string, title: string): Promise<string> {
  const renderer = new marked.Renderer();
  const plainCode = renderer.code.bind(renderer);
  renderer.code = (t: Tokens.Code) => (t.lang === 'mermaid' ? `<pre class="mermaid">${escapeHtml(t.text)}</pre>\n` : plainCode(t));
  const body = await marked.parse(markdown, { gfm: true, renderer });
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
  body { font: 14px/1.45 sans-serif; margin: 24px; max-width: 1400px; }
  table { border-collapse: collapse; margin: 8px 0; }
  th, td { border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; }
  code { background: #f3f3f3; padding: 0 3px; }
  pre.mermaid { background: #fff; }
</style></head>
<body>${body}</body></html>`;
}
