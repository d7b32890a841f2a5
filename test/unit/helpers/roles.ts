// Expanding a role the way the engine does (vars validated by the role's own
// schema, resources flattened), for role unit tests.
import type { ZodType } from 'zod';
import { resourcesOf, type Facts, type Role, type Vars } from '../../../lib/engine/types.js';
import { validateRoleVars } from '../../../lib/engine/validateVars.js';
import { DEBIAN12_FACTS } from './context.js';

/** Schema problems as "path.to.key: message" lines (empty when the vars are valid). */
export function schemaProblems(schema: ZodType, vars: Vars): string[] {
  const parsed = schema.safeParse(vars);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

/** The role's resources and handlers for host h1 with these vars and Debian 12 facts (overridable). */
export async function expandRole(role: Role<any>, vars: Vars = {}, facts: Partial<Facts> = {}) {
  const { vars: validated, problems } = validateRoleVars(role, 'h1', vars);
  if (!validated) throw new Error(problems.map((p) => p.message).join('\n'));
  const out = await role.tasks({ host: 'h1', vars: validated, facts: { ...DEBIAN12_FACTS, ...facts } });
  return { resources: resourcesOf(out), handlers: out.handlers };
}
