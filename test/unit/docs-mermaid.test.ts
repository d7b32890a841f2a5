// Every Mermaid block of the page goes through Mermaid's own parser, for the
// production-shaped inventory and for inventories whose names would break a
// diagram written by hand (quotes, brackets, "end", pipes, hash signs).
import { describe, expect, it } from 'vitest';
import { mermaidBlocks } from '../../lib/docs/markdown.js';
import { escapeLabel, Flowchart } from '../../lib/docs/mermaid.js';
import { buildModel } from '../../lib/docs/model.js';
import { renderPage } from '../../lib/docs/page.js';
import { loadText, mermaidParse, productionLikeText } from './helpers/docs.js';

describe("Mermaid's parser accepts every diagram", () => {
  it('of the production-shaped page', async () => {
    const blocks = mermaidBlocks(renderPage(buildModel({ inventory: await loadText(await productionLikeText()) })));
    expect(blocks).toHaveLength(2);
    for (const b of blocks) await expect(mermaidParse(b)).resolves.toMatchObject({ diagramType: 'flowchart-v2' });
  });

  it('with hostile names and labels', async () => {
    const extra = `
[hosts.end]
host = "end.example.org"
groups = ["static_runners"]
[host_vars.end.server]
description = 'Quotes " and brackets ] [ ( ) { } <b>html</b> | pipes # hash & amp; end'
services = [{ name = "end", unit = "end.service", ports = [1], listen = "local", description = "subgraph end --> x" }]
paths = [{ name = "graph", path = "/srv/a b/\\"c\\"", purpose = "]]" }]
`;
    const md = renderPage(buildModel({ inventory: await loadText((await productionLikeText(extra)).replace('{ name = "Solr index"', '{ name = "x\\" --> y[z]|w|", tags = ["a|b"] },\n  { name = "Solr index"')) }));
    const blocks = mermaidBlocks(md);
    expect(blocks[0]).toContain('subgraph grp_end[');
    for (const b of blocks) await mermaidParse(b);
  });

  it('and rejects a broken one (the check can fail)', async () => {
    await expect(mermaidParse('flowchart LR\n  a["x"] --> b["y')).rejects.toThrow(/Parse error/);
    // what escaping and id prefixes prevent: a raw quote inside a label, a node named "end"
    await expect(mermaidParse('flowchart LR\n  a["say "hi" ]"]')).rejects.toThrow();
    await expect(mermaidParse(`flowchart LR\n  a["${escapeLabel('say "hi" ]')}"]`)).resolves.toBeDefined();
    await expect(mermaidParse('flowchart LR\n  a --> b\n  end["z"]')).rejects.toThrow();
  });
});

describe('Flowchart', () => {
  it('gives each key one safe, unique id', () => {
    const f = new Flowchart();
    expect(f.id('srv:a-b')).toBe('srv_a_b');
    expect(f.id('srv:a_b')).toBe('srv_a_b_2');
    expect(f.id('srv:a-b')).toBe('srv_a_b');
  });

  it('escapes labels with Mermaid entity codes', () => {
    expect(escapeLabel('a "b" <c> | #d & e')).toBe('a #quot;b#quot; #lt;c#gt; #124; #35;d #amp; e');
  });
});
