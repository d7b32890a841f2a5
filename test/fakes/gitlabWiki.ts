/**
 * Project wikis for the GitLab stand-in (a FakeGitlabExtension for
 * test/fakes/gitlab.ts), after GitLab's public "Project wikis API":
 *
 *   GET    /api/v4/projects/:id/wikis                 [?with_content=1]  -> 200 [{ slug, title, format[, content] }]
 *   GET    /api/v4/projects/:id/wikis/:slug                              -> 200 { slug, title, format, content, encoding } | 404
 *   POST   /api/v4/projects/:id/wikis  { title, content, format? }       -> 201 page | 400 (missing, duplicate, bad format)
 *   PUT    /api/v4/projects/:id/wikis/:slug { content?, title?, format? } -> 200 page | 400 | 404
 *   DELETE /api/v4/projects/:id/wikis/:slug                              -> 204 | 404
 *
 * `:id` is a project's numeric id or its URL-encoded path
 * (`group%2Fproject`); `:slug` is URL-encoded too (`dir%2Fpage`). As in
 * GitLab, a page's slug is its title with spaces turned into hyphens, the
 * title GitLab answers is the slug's last part with hyphens as spaces, and a
 * PUT with a new title moves the page to the new slug. Every endpoint needs
 * the access token (401 otherwise); unknown projects are 404 "Project Not Found".
 */
import { fakeGitlabError, type FakeGitlabExtension } from './gitlab.js';

export interface FakeWikiPage {
  slug: string;
  content: string;
  format: string;
}

export interface FakeWikiProject {
  id: number;
  path: string;
  pages: Map<string, FakeWikiPage>;
}

export interface FakeGitlabWiki {
  extension: FakeGitlabExtension;
  projects: FakeWikiProject[];
  /** the page at `slug` of the project with this path (undefined: none) */
  page(projectPath: string, slug: string): FakeWikiPage | undefined;
}

const FORMATS = ['markdown', 'rdoc', 'asciidoc', 'org'];

export function slugOfTitle(title: string): string {
  return title.trim().replace(/\s+/g, '-');
}

function titleOfSlug(slug: string): string {
  return slug.split('/').pop()!.replace(/-/g, ' ');
}

function view(p: FakeWikiPage, withContent = true) {
  return { slug: p.slug, title: titleOfSlug(p.slug), format: p.format, ...(withContent ? { content: p.content, encoding: 'UTF-8' } : {}) };
}

export function fakeGitlabWiki(projects: Array<{ id: number; path: string }>): FakeGitlabWiki {
  const state: FakeWikiProject[] = projects.map((p) => ({ ...p, pages: new Map() }));
  const findProject = (idText: string) => {
    const key = decodeURIComponent(idText);
    const p = /^\d+$/.test(key) ? state.find((x) => x.id === Number(key)) : state.find((x) => x.path === key);
    if (!p) throw fakeGitlabError(404, '404 Project Not Found');
    return p;
  };
  const text = (params: Record<string, unknown>, key: string): string | undefined => {
    const v = params[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw fakeGitlabError(400, `400 Bad request - ${key} is invalid`);
    return v;
  };
  const format = (params: Record<string, unknown>): string | undefined => {
    const f = text(params, 'format');
    if (f !== undefined && !FORMATS.includes(f)) throw fakeGitlabError(400, '400 Bad request - format does not have a valid value');
    return f;
  };

  const extension: FakeGitlabExtension = (req) => {
    const m = /^\/api\/v4\/projects\/([^/]+)\/wikis(?:\/([^/]+))?$/.exec(req.path);
    if (!m) return undefined;
    req.requireAuth();
    const project = findProject(m[1]);
    const slug = m[2] === undefined ? undefined : decodeURIComponent(m[2]);

    if (slug === undefined) {
      if (req.method === 'GET') {
        const withContent = ['1', 'true'].includes(String(req.params.with_content ?? ''));
        return { status: 200, body: [...project.pages.values()].map((p) => view(p, withContent)) };
      }
      if (req.method === 'POST') {
        const title = text(req.params, 'title');
        const content = text(req.params, 'content');
        if (!title) throw fakeGitlabError(400, '400 Bad request - title is missing');
        if (content === undefined) throw fakeGitlabError(400, '400 Bad request - content is missing');
        const f = format(req.params) ?? 'markdown';
        const newSlug = slugOfTitle(title);
        if (project.pages.has(newSlug)) throw fakeGitlabError(400, 'Duplicate page: A page with that title already exists');
        const page = { slug: newSlug, content, format: f };
        project.pages.set(newSlug, page);
        return { status: 201, body: view(page) };
      }
      throw fakeGitlabError(405, '405 Method Not Allowed');
    }

    const page = project.pages.get(slug);
    if (req.method === 'GET') {
      if (!page) throw fakeGitlabError(404, '404 Wiki Page Not Found');
      return { status: 200, body: view(page) };
    }
    if (req.method === 'PUT') {
      if (!page) throw fakeGitlabError(404, '404 Wiki Page Not Found');
      const content = text(req.params, 'content');
      const title = text(req.params, 'title');
      const f = format(req.params);
      if (content === undefined && title === undefined) throw fakeGitlabError(400, '400 Bad request - content, title are missing, at least one parameter must be provided');
      const target = title === undefined ? slug : [...slug.split('/').slice(0, -1), slugOfTitle(title)].join('/');
      if (target !== slug && project.pages.has(target)) throw fakeGitlabError(400, 'Duplicate page: A page with that title already exists');
      const updated = { slug: target, content: content ?? page.content, format: f ?? page.format };
      project.pages.delete(slug);
      project.pages.set(target, updated);
      return { status: 200, body: view(updated) };
    }
    if (req.method === 'DELETE') {
      if (!page) throw fakeGitlabError(404, '404 Wiki Page Not Found');
      project.pages.delete(slug);
      return { status: 204 };
    }
    throw fakeGitlabError(405, '405 Method Not Allowed');
  };

  return {
    extension,
    projects: state,
    page: (path, slug) => state.find((p) => p.path === path)?.pages.get(slug),
  };
}
