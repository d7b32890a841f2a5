// The docs playbook's two roles:
//   docs-measure  on every server: one probe measuring it (lib/docs/measure.ts)
//   docs-wiki     on the control machine, after the servers (a barrier play):
//                 the page, built from the whole inventory and the
//                 measurements, published as a GitLab wiki page
import { z } from 'zod';
import { defineRole, type Role } from '../engine/types.js';
import type { Inventory } from '../inventory/load.js';
import { Secret } from '../secrets.js';
import { wikiPage } from '../services/gitlab/wikiPage.js';
import type { AppliedRoles } from './applied.js';
import type { LivePrices } from './fleet.js';
import { measureResource, type Measurements } from './measure.js';
import { buildModel } from './model.js';
import { pageFingerprint, renderPage } from './page.js';
import { docsSchema, hostVarsSchema } from './schema.js';

export interface DocsRolesOptions {
  measurements: Measurements;
  /** the roles the other playbooks apply, per host (see applied.ts) */
  applied?: (inv: Inventory) => AppliedRoles;
  /**
   * Seam for the fleet capability (lib/services/scaleway): live prices read by
   * a resource that runs before the page; undefined: the inventory's prices.
   */
  livePrices?: () => LivePrices | undefined;
  /** the measurement date (default: today, UTC) */
  today?: () => string;
}

const httpUrl = z.string().regex(/^https?:\/\/[^/\s]+/, 'expected an http(s) URL, e.g. https://gitlab.example.org');

export function measureRole(o: DocsRolesOptions): Role {
  return defineRole({
    name: 'docs-measure',
    vars: hostVarsSchema,
    tasks: ({ host, vars }) => ({
      resources: [measureResource({ host, paths: vars.server?.paths.map((p) => p.path) ?? [], duTimeout: vars.docs?.du_timeout ?? 120, into: o.measurements, today: o.today })],
    }),
  });
}

export function wikiRole(o: DocsRolesOptions): Role {
  return defineRole({
    name: 'docs-wiki',
    vars: z.object({
      docs: docsSchema,
      gitlab_url: httpUrl,
      gitlab_access_token: z.instanceof(Secret, { message: 'expected a secret ({ secret = "NAME" }) with the api scope, to read and write the wiki' }),
    }),
    tasks: ({ vars, inventory }) => {
      if (!inventory) throw new Error('docs-wiki: the page is made from the whole inventory, and this run did not hand it to the role');
      const content = () => renderPage(buildModel({ inventory, measurements: o.measurements, applied: o.applied?.(inventory), livePrices: o.livePrices?.() }));
      return {
        resources: [
          wikiPage({
            gitlabUrl: vars.gitlab_url,
            token: vars.gitlab_access_token,
            project: vars.docs.wiki.project,
            slug: vars.docs.wiki.slug,
            content,
            fingerprint: pageFingerprint,
          }),
        ],
      };
    },
  });
}
