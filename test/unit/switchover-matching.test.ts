// The product's side of GitLab's job-to-runner rule (the gates use it); the
// stand-in implements the same rule on its own (fakes-gitlab-projects.test.ts).
import { describe, expect, it } from 'vitest';
import { runnerView, takes } from '../../lib/services/gitlab/switchover/matching.js';

const runner = (over: Record<string, unknown> = {}) =>
  runnerView({ id: 1, description: 'r', paused: false, online: true, status: 'online', runner_type: 'instance_type', tag_list: ['a', 'b'], run_untagged: false, groups: [], projects: [], ...over } as never);

describe('takes', () => {
  it('needs ALL the job tags; extra runner tags are fine', () => {
    expect(takes(runner(), ['a', 'b'])).toBe(true);
    expect(takes(runner(), ['a'])).toBe(true);
    expect(takes(runner({ tag_list: ['a', 'c'] }), ['a', 'b'])).toBe(false);
  });
  it('untagged jobs only with run_untagged; never paused or offline runners', () => {
    expect(takes(runner(), [])).toBe(false);
    expect(takes(runner({ run_untagged: true }), [])).toBe(true);
    expect(takes(runner({ paused: true }), ['a'])).toBe(false);
    expect(takes(runner({ online: false, status: 'offline' }), ['a'])).toBe(false);
  });
  it('group and project runners serve their own projects only', () => {
    const project = { id: 7, groupIds: [20, 10] };
    expect(takes(runner({ runner_type: 'group_type', groups: [{ id: 10 }] }), ['a'], project)).toBe(true);
    expect(takes(runner({ runner_type: 'group_type', groups: [{ id: 99 }] }), ['a'], project)).toBe(false);
    expect(takes(runner({ runner_type: 'project_type', projects: [{ id: 7 }] }), ['a'], project)).toBe(true);
    expect(takes(runner({ runner_type: 'project_type', projects: [{ id: 8 }] }), ['a'], project)).toBe(false);
  });
});
