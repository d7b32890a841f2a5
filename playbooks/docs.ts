#!/usr/bin/env -S node ./lib/boot.cjs
// The "CI jobs and runners" wiki page, generated from the inventory and the servers.
//   npx tsx playbooks/docs.ts --out page.md        write the page from the inventory alone (connects to nothing)
//   npx tsx playbooks/docs.ts --check              measure every server (one round trip each), show the page's diff
//   npx tsx playbooks/docs.ts                      measure, then publish to the wiki named in vars.docs
//   npx tsx playbooks/docs.ts --limit local        publish without measuring (the page says so)
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { appliedRoles } from '../lib/docs/applied.js';
import { Measurements } from '../lib/docs/measure.js';
import { buildModel } from '../lib/docs/model.js';
import { renderPage } from '../lib/docs/page.js';
import { measureRole, wikiRole, type DocsRolesOptions } from '../lib/docs/roles.js';
import type { Inventory } from '../lib/inventory/load.js';
import { playbook } from '../lib/playbook.js';
import runner from './runner.js';
import site from './site.js';

/** The page describes the roles these playbooks apply. */
const applied = (inv: Inventory) => appliedRoles([site, runner], inv);

const options: DocsRolesOptions = { measurements: new Measurements(), applied };

export default playbook(
  {
    name: 'docs',
    plays: [
      { name: 'measure', hosts: 'all', roles: [measureRole(options)] },
      { name: 'publish', hosts: 'local', barrier: true, roles: [wikiRole(options)] },
    ],
    actions: [
      {
        name: 'out',
        value: 'FILE',
        help: 'write the page (Markdown) to FILE from the inventory alone, and exit',
        async run(file, { inventory, io }) {
          const page = renderPage(buildModel({ inventory, applied: applied(inventory) }));
          await writeFile(resolve(file), page);
          io.stdout(`wrote ${file} (${page.length} characters; offline: nothing was measured)\n`);
        },
      },
    ],
  },
  import.meta.url,
);
