// Role vars are checked for every selected host before any host is contacted,
// so bad input never leaves a host half-configured.
import type { Role, Vars } from './types.js';

export interface VarsProblem {
  host: string;
  role: string;
  message: string;
}

export function validateRoleVars(role: Role<any>, host: string, vars: Vars): { vars?: Vars; problems: VarsProblem[] } {
  if (!role.vars) return { vars, problems: [] };
  const parsed = role.vars.safeParse(vars);
  if (parsed.success) return { vars: { ...vars, ...(parsed.data as Vars) }, problems: [] };
  const problems = parsed.error.issues.map((issue) => ({
    host,
    role: role.name,
    message: `${formatPath(issue.path)}: ${issue.message}`,
  }));
  return { problems };
}

function formatPath(path: PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(vars)';
}
