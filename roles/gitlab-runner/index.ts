// gitlab-runner: installs a pinned gitlab-runner from GitLab's apt repository,
// registers its runners on GitLab and keeps their GitLab-side settings
// (one API resource per runner, gitlab-runner:<name>), writes
// /etc/gitlab-runner/config.toml from the inventory (keeping the tokens the
// runner owns and the runners the inventory does not name), drains the
// runners on GitLab before a package upgrade, and keeps the service running.
//
// Vars: see vars.ts. A package upgrade restarts the service; a config change
// does not (gitlab-runner reloads config.toml by itself). How the resources
// hand the runners' credentials to each other: runnerHost.ts.
import { defineRole } from '../../lib/engine/types.js';
import { aptPackages, aptRepository, directory, service, serviceHandler } from '../../lib/resources/index.js';
import { runnerConfig } from './configResource.js';
import { drainResource, RESUME, resumeHandler } from './drainResource.js';
import { gitlabSideResources, RunnerHost, runnerHostResource } from './runnerHost.js';
import { varsSchema, type GitlabRunnerVars } from './vars.js';

export const RESTART = 'restart gitlab-runner';
export { RESUME };
export const PACKAGES = ['gitlab-runner', 'gitlab-runner-helper-images'];

export default defineRole<GitlabRunnerVars>({
  name: 'gitlab-runner',
  vars: varsSchema,
  tasks({ host, vars, facts }) {
    const codename = vars.gitlab_runner_apt_codename ?? facts.os.codename;
    if (!codename) throw new Error('gitlab-runner: the host has no OS codename; set gitlab_runner_apt_codename');
    const configDir = vars.gitlab_runner_config_path.replace(/\/[^/]+$/, '') || '/';
    const repo = aptRepository({
      name: 'runner_gitlab-runner',
      uri: vars.gitlab_runner_apt_url,
      suites: [codename],
      components: ['main'],
      keyUrl: vars.gitlab_runner_apt_key_url,
      keyFingerprint: vars.gitlab_runner_apt_key_fingerprint,
    });
    // What this host's runner resources share during the run (see runnerHost.ts).
    const shared = new RunnerHost(vars, host, vars.gitlab_runner_config_path);
    return {
      resources: [
        ...repo,
        // Before the package changes version: pause the runners and wait for their jobs.
        drainResource(shared, { version: vars.gitlab_runner_version, notify: RESUME }),
        aptPackages({
          // a new or changed source (or keyring) is read by apt-get update first, however fresh the cache
          updateCacheIfChanged: repo,
          // The two must be the same version (since 17.7.1); held so apt upgrades leave them alone.
          packages: PACKAGES.map((p) => `${p}=${vars.gitlab_runner_version}`),
          hold: true,
          // The postinst would otherwise run `clear-docker-cache prune` on every install/upgrade.
          env: { NO_DOCKER_PRUNE: '1' },
          notify: RESTART,
        }),
        directory({ path: configDir, mode: '0700' }),
        runnerHostResource(shared),
        ...gitlabSideResources(shared),
        runnerConfig({ vars, shared }),
        service({ unit: 'gitlab-runner', enabled: true, state: 'started' }),
      ],
      // In this order: the runners are resumed once the restarted service is up.
      handlers: [serviceHandler(RESTART, 'gitlab-runner', 'restart'), resumeHandler(shared)],
    };
  },
});
