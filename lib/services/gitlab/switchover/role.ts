// The switchover runbook as a role of API resources for the control machine:
// one resource per step selected by the flags, in order. Each reads where the
// switchover stands on GitLab, plans the step (or refuses, naming the step or
// gate that blocks it) and applies it with its gates.
import { z } from 'zod';
import { defineRole, type ApiResource, type Change, type RunContext, type Role } from '../../../engine/types.js';
import { UserError } from '../../../errors.js';
import { Secret } from '../../../secrets.js';
import { GitlabProjectsApi } from '../projects.js';
import { switchoverSchema } from '../switchoverVars.js';
import { position, prepareForward, prepareNext, prepareRollback, type Done, type Prepared, type RollbackNo, type Selection, type StepNo } from './steps.js';
import { Switchover } from './world.js';

export const switchoverRoleVars = z.object({
  switchover: switchoverSchema,
  gitlab_url: z.string().regex(/^https?:\/\/[^\s/]+/, 'expected the http(s) URL of the GitLab instance'),
  gitlab_access_token: z.instanceof(Secret, { message: 'expected a secret ({ secret = "NAME" }): an administrator token with the api scope' }),
});

export type SwitchoverRoleVars = z.output<typeof switchoverRoleVars>;

/** The playbook's own flags (parsed by lib/cli.ts). */
export const SWITCHOVER_FLAGS = {
  step: { type: 'string', value: 'N', description: 'do step N (1-5) only, if every earlier step is done' },
  through: { type: 'string', value: 'N', description: 'do every step not done yet, up to step N' },
  rollback: { type: 'string', value: 'N', description: 'undo steps 4 down to N (1-4), each behind its gate' },
} as const;

/** --step / --through / --rollback (at most one) -> what the run does; none: the next step not done yet. */
export function selectionOf(flags: Record<string, string | boolean | undefined>): Selection {
  const given = (['step', 'through', 'rollback'] as const).filter((k) => flags[k] !== undefined);
  if (given.length > 1) throw new UserError(`--${given[0]} and --${given[1]} cannot be used together (see --help)`);
  if (!given.length) return { kind: 'next' };
  const kind = given[0];
  const text = String(flags[kind]);
  const max = kind === 'rollback' ? 4 : 5;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max)
    throw new UserError(`--${kind}: expected a step number from 1 to ${max}, got ${JSON.stringify(text)}${kind === 'rollback' && text === '5' ? ' (a deleted runner cannot be restored: register it again with playbooks/runner.ts)' : ''}`);
  const n = Number(text);
  return kind === 'rollback' ? { kind, n: n as RollbackNo } : { kind, n: n as StepNo };
}

export function switchoverRole(sel: Selection): Role<SwitchoverRoleVars> {
  return defineRole<SwitchoverRoleVars>({
    name: 'switchover',
    vars: switchoverRoleVars,
    tasks: ({ vars }) => ({ resources: resourcesFor(sel, vars) }),
  });
}

function resourcesFor(sel: Selection, vars: SwitchoverRoleVars): ApiResource[] {
  // One view of GitLab per run target: the resources share its memoised reads.
  const worlds = new WeakMap<RunContext, Switchover>();
  const world = (ctx: RunContext) => {
    let w = worlds.get(ctx);
    if (!w) {
      w = new Switchover(GitlabProjectsApi.forContext(ctx, vars.gitlab_url, vars.gitlab_access_token), vars.switchover, (m) => ctx.log(m));
      worlds.set(ctx, w);
    }
    return w;
  };
  /** from..to, counting up or down; empty when `to` is past `from` in that direction */
  const steps = (from: number, to: number, dir: 1 | -1) => (dir * (to - from) < 0 ? [] : Array.from({ length: dir * (to - from) + 1 }, (_, i) => from + dir * i));
  switch (sel.kind) {
    case 'next':
      return [stepResource('gitlab:switchover/next-step', 'next', (ctx) => prepareNext(world(ctx), { check: ctx.check, inRun: new Set() }))];
    case 'step':
      return [stepResource(`gitlab:switchover/step-${sel.n}`, `step-${sel.n}`, (ctx) => prepareForward(world(ctx), sel.n, { check: ctx.check, inRun: new Set() }))];
    case 'through':
      return steps(1, sel.n, 1).map((n) => stepResource(`gitlab:switchover/step-${n}`, `step-${n}`, (ctx) => prepareForward(world(ctx), n as StepNo, { check: ctx.check, inRun: new Set(steps(1, n - 1, 1)) })));
    case 'rollback':
      return steps(4, sel.n, -1).map((n) =>
        stepResource(`gitlab:switchover/rollback-${n}`, `rollback-${n}`, (ctx) => prepareRollback(world(ctx), n as RollbackNo, { check: ctx.check, inRun: new Set(steps(4, n + 1, -1)) })),
      );
  }
}

function stepResource(id: string, tag: string, prepare: (ctx: RunContext) => Promise<Prepared>): ApiResource<Prepared, Prepared> {
  return {
    id,
    tags: [tag],
    notify: [],
    read: prepare,
    plan(p, ctx): Change<Prepared> | null {
      if (p.done !== undefined) {
        ctx.log(`${id}: done (${p.done})`);
        return null;
      }
      return { summary: p.summary!, diff: p.diff, data: p };
    },
    async apply(change) {
      await change.data!.run!();
    },
  };
}

/**
 * Where the switchover stands (steps 1-5, read from GitLab), for the
 * gitlab-runner role: until every step is done it leaves static_runner's tags
 * and retired_runner's existence to the runbook.
 */
export async function switchoverPosition(ctx: RunContext, vars: Pick<SwitchoverRoleVars, 'gitlab_url' | 'gitlab_access_token' | 'switchover'>): Promise<{ complete: boolean; steps: Done[] }> {
  const steps = await position(new Switchover(GitlabProjectsApi.forContext(ctx, vars.gitlab_url, vars.gitlab_access_token), vars.switchover, (m) => ctx.log(m)));
  return { complete: steps.every((d) => d.done), steps };
}
