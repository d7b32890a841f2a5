// The page as a reader sees it: Markdown rendered to HTML, Mermaid run in
// Debian's headless chromium (puppeteer-core; scripts/setup.sh installs it).
// Each diagram must become an SVG with exactly one node per server, and no
// Mermaid error may show. The screenshot is kept in test/artifacts/
// (git-ignored) for a person to look at.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appliedRoles } from '../../lib/docs/applied.js';
import { serverKey } from '../../lib/docs/diagrams.js';
import { Measurements, parseMeasure } from '../../lib/docs/measure.js';
import { safeId } from '../../lib/docs/mermaid.js';
import { buildModel } from '../../lib/docs/model.js';
import { renderPage } from '../../lib/docs/page.js';
import runner from '../../playbooks/runner.js';
import site from '../../playbooks/site.js';
import { loadText, pageHtml, productionLikeText } from './helpers/docs.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));
const MERMAID = fileURLToPath(new URL('../../node_modules/mermaid/dist/mermaid.min.js', import.meta.url));

let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/setup.sh (it installs Debian's chromium)`);
  browser = await puppeteer.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'], headless: true });
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

interface Rendered {
  diagrams: Array<{ svg: boolean; type: string | null; nodeIds: string[] }>;
  errors: string[];
}

/** Render the page with Mermaid in the browser; returns what each diagram became. */
async function render(markdown: string, screenshot?: string): Promise<Rendered> {
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  try {
    await page.setViewport({ width: 1500, height: 1000 });
    await page.setContent(await pageHtml(markdown, 'CI jobs and runners'), { waitUntil: 'load' });
    await page.addScriptTag({ path: MERMAID });
    const result = await page.evaluate(async () => {
      const mermaid = (window as unknown as { mermaid: { initialize(c: object): void; run(o: object): Promise<void> } }).mermaid;
      mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' });
      const errors: string[] = [];
      try {
        await mermaid.run({ querySelector: 'pre.mermaid', suppressErrors: false });
      } catch (e) {
        errors.push(String(e));
      }
      // a failed diagram is drawn as Mermaid's error picture ("Syntax error in text")
      if (/Syntax error in text|Parse error/.test(document.body.innerText)) errors.push('Mermaid error shown on the page');
      const diagrams = [...document.querySelectorAll('pre.mermaid')].map((pre) => {
        const svg = pre.querySelector('svg');
        return { svg: Boolean(svg), type: svg?.getAttribute('aria-roledescription') ?? null, nodeIds: [...(svg?.querySelectorAll('g.node') ?? [])].map((n) => n.id) };
      });
      return { diagrams, errors };
    });
    if (screenshot) {
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: `${ARTIFACTS}${screenshot}`, fullPage: true });
    }
    return { ...result, errors: [...result.errors, ...pageErrors] };
  } finally {
    await page.close();
  }
}

/** How many of a diagram's SVG nodes are the server's node (Mermaid ids end in "-flowchart-<id>-<n>"). */
function serverNodes(ids: string[], host: string): number {
  const re = new RegExp(`-flowchart-${safeId(serverKey(host))}-\\d+$`);
  return ids.filter((id) => re.test(id)).length;
}

function measurements(): Measurements {
  const m = new Measurements();
  const lines = (extra: string[]) => ['cpus\t4', 'mem_kb\t16384000', 'fs\t/\t1000000000000\t640000000000', 'unit\tgitlab-runner.service', 'listen\ttcp\t0.0.0.0:22\tusers:(("sshd",pid=1,fd=3))', ...extra].join('\n');
  m.set(parseMeasure('dolos', lines(['unit\tsolr.service', 'listen\ttcp\t127.0.0.1:8983\tusers:(("java",pid=9,fd=3))', `path\t0\t${118 * 2 ** 30}`, `path\t1\t${537 * 2 ** 30}`]), ['/var/solr/data', '/home/gitlab-runner/json-data'], '2026-12-02'));
  m.set(parseMeasure('eros', lines(['unit\tdocker.service', `path\t0\t${80 * 2 ** 30}`]), ['/var/lib/docker'], '2026-12-02'));
  m.set(parseMeasure('mania', lines([`path\t0\t${3 * 2 ** 20}`]), ['/root/.docker/machine/machines'], '2026-12-02'));
  return m;
}

describe('the page in headless chromium', () => {
  it('draws each diagram as an SVG with one node per server, without a Mermaid error', async () => {
    const inv = await loadText(await productionLikeText());
    const md = renderPage(buildModel({ inventory: inv, measurements: measurements(), applied: appliedRoles([site, runner], inv) }));
    const r = await render(md, 'docs-page.png');
    expect(r.errors).toEqual([]);
    expect(r.diagrams).toHaveLength(2);
    for (const [i, d] of r.diagrams.entries()) {
      expect(d.svg, `diagram ${i}`).toBe(true);
      expect(d.type, `diagram ${i}`).toBe('flowchart-v2');
      for (const host of inv.hosts.keys()) expect(serverNodes(d.nodeIds, host), `diagram ${i}, ${host}`).toBe(1);
    }
    expect(existsSync(`${ARTIFACTS}docs-page.png`)).toBe(true);
  }, 120_000);

  it('a host added to the inventory gets its node in both diagrams', async () => {
    const inv = await loadText(await productionLikeText('[hosts.hermes]\nhost = "hermes.example.org"\ngroups = ["autoscale_runners"]\n'));
    const r = await render(renderPage(buildModel({ inventory: inv })));
    expect(r.errors).toEqual([]);
    for (const d of r.diagrams) for (const host of ['dolos', 'eros', 'mania', 'hermes']) expect(serverNodes(d.nodeIds, host), host).toBe(1);
  }, 120_000);

  it('notices a broken diagram (the check can fail)', async () => {
    const r = await render('# t\n\n```mermaid\nflowchart LR\n  a["x"] --> b["y\n```\n');
    expect(r.errors.length).toBeGreaterThan(0);
  }, 120_000);
});

// keep the HTML beside the screenshot, for a look in a browser
afterAll(async () => {
  const inv = await loadText(await productionLikeText());
  await mkdir(ARTIFACTS, { recursive: true });
  await writeFile(`${ARTIFACTS}docs-page.html`, await pageHtml(renderPage(buildModel({ inventory: inv, measurements: measurements() })), 'CI jobs and runners'));
});
