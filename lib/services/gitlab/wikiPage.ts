// A GitLab wiki page as an API resource (GitLab's Wikis API):
//   read   GET  /projects/:id/wikis/:slug             200 { slug, title, content, format } | 404
//   apply  PUT  /projects/:id/wikis/:slug { content, format }       (an existing page)
//          POST /projects/:id/wikis { title, content, format }      (a new one)
// :id is the numeric id or the URL-encoded project path. GitLab derives a
// page's slug from its title (spaces become hyphens), so a new page is
// created with the title its slug stands for, and an update never sends a
// title: changing it would move the page to another slug.
import type { ApiResource, Change, RunContext } from '../../engine/types.js';
import { reveal, type Secret } from '../../secrets.js';

export interface WikiPageOptions {
  gitlabUrl: string;
  /** needs the api scope (reads and writes the wiki) */
  token?: Secret | string;
  /** numeric id or path, e.g. "dbnomics-fetchers/documentation" */
  project: string | number;
  slug: string;
  /** the page's Markdown; called when the page is planned, so it can use what earlier plays found */
  content: () => string;
  /** decides whether the page must be written (default: the text itself) */
  fingerprint?: (content: string) => string;
  tags?: string[];
}

export interface WikiPageState {
  exists: boolean;
  content?: string;
  format?: string;
}

export interface WikiData {
  exists: boolean;
  content: string;
}

interface GitlabWikiPage {
  slug: string;
  title: string;
  content: string;
  format: string;
}

export function wikiPagePath(project: string | number, slug?: string): string {
  return `/api/v4/projects/${encodeURIComponent(String(project))}/wikis${slug === undefined ? '' : `/${encodeURIComponent(slug)}`}`;
}

/** The title GitLab turns into this slug (its last part is what the wiki shows). */
export function titleForSlug(slug: string): string {
  return slug.replace(/-/g, ' ');
}

export function wikiPage(o: WikiPageOptions): ApiResource<WikiPageState, WikiData> {
  const name = `${o.project}/${o.slug}`;
  const fp = o.fingerprint ?? ((c: string) => c.replace(/\r\n/g, '\n').trimEnd());
  let desired: string | undefined;
  const content = () => (desired ??= o.content());
  const client = (ctx: RunContext) => ctx.http(o.gitlabUrl, { name: 'GitLab API', headers: o.token === undefined ? {} : { 'PRIVATE-TOKEN': reveal(o.token) } });
  return {
    id: `gitlab-wiki:${name}`,
    tags: o.tags ?? [],
    notify: [],
    render: () => ({ api: { name: `gitlab-wiki-${String(o.project).replace(/\//g, '_')}-${o.slug.replace(/\//g, '_')}`, state: { project: o.project, slug: o.slug, format: 'markdown', content: content() } } }),
    async read(ctx) {
      const res = await client(ctx).get<GitlabWikiPage>(wikiPagePath(o.project, o.slug), { accept: [200, 404] });
      if (res.status === 404) return { exists: false };
      return { exists: true, content: res.json.content ?? '', format: res.json.format };
    },
    plan(current): Change<WikiData> | null {
      const after = content();
      if (current.exists && current.format === 'markdown' && fp(current.content ?? '') === fp(after)) return null;
      const why = !current.exists ? 'create' : current.format !== 'markdown' ? `update (format ${current.format} -> markdown)` : 'update';
      return {
        summary: `${why} wiki page ${name}`,
        diff: { path: `gitlab:wiki/${name}.md`, before: current.content ?? '', after },
        data: { exists: current.exists, content: after },
      };
    },
    async apply(change, ctx) {
      const { exists, content: body } = change.data!;
      const http = client(ctx);
      if (exists) await http.request('PUT', wikiPagePath(o.project, o.slug), { body: { content: body, format: 'markdown' } });
      else await http.request('POST', wikiPagePath(o.project), { body: { title: titleForSlug(o.slug), content: body, format: 'markdown' } });
    },
  };
}
