// `npm run demo`: the runner playbook against a local Debian 12 test host named
// "mania", with local stand-ins for GitLab, its apt repository and the
// docker-machine downloads. Check mode with diffs, apply, then a no-op run.
//   npm run demo -- --keep     leave the host running afterwards
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { upHosts } from './test/hosts/hosts.js';
import { startRunnerStage } from './test/fakes/runnerStage.js';
import { DEFAULT_FIXTURES_DIR } from './test/fakes/fixtures.js';

const keep = process.argv.includes('--keep');
const dir = join(process.cwd(), '.testhosts', 'demo');

function banner(text: string) {
  process.stdout.write(`\n\x1b[1;36m==> ${text}\x1b[0m\n`);
}

function runPlaybook(args: string[]): Promise<number> {
  const cmd = ['node_modules/.bin/tsx', 'playbooks/runner.ts', ...args];
  process.stdout.write(`\x1b[2m$ ${cmd.join(' ')}\x1b[0m\n`);
  return new Promise((resolve) => {
    const child = spawn(cmd[0], cmd.slice(1), { stdio: 'inherit', env: { ...process.env, FORCE_COLOR: process.stdout.isTTY ? '1' : '' } });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

banner('starting a Debian 12 test host "mania" (the image is built once, ~2 min, then cached)');
const hosts = await upHosts({ names: ['mania'], fixturesDir: DEFAULT_FIXTURES_DIR, dir });
let failed = false;
try {
  const stage = await startRunnerStage({ stateDir: hosts.dir, hosts: [{ name: 'mania', port: hosts.get('mania').port, kind: 'autoscale' }] });
  try {
    const common = ['-i', stage.inventory, '--limit', 'mania'];
    banner('1. check mode: what would change, with diffs (nothing is changed)');
    failed ||= (await runPlaybook([...common, '--check'])) !== 0;
    banner('2. apply');
    failed ||= (await runPlaybook(common)) !== 0;
    banner('3. apply again: nothing left to change');
    failed ||= (await runPlaybook([...common, '--detailed-exitcode'])) !== 0;
    banner(`GitLab stand-in saw ${stage.gitlab.calls.filter((c) => c.method === 'POST' && c.path === '/api/v4/user/runners').length} registration call(s) in total`);
  } finally {
    await stage.close();
  }
} finally {
  if (keep) {
    banner(`host left running: ssh -i ${hosts.privateKey} -o UserKnownHostsFile=${hosts.knownHosts} -p ${hosts.get('mania').port} root@127.0.0.1   (remove: npm run testhosts -- down)`);
  } else {
    await hosts.down();
  }
}
process.exit(failed ? 1 : 0);
