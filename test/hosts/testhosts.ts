// Disposable Docker test hosts for integration tests and benchmarks.
//
//   npm run testhosts -- up --count 3 [--name-prefix host] [--groups test,web] [--fixtures DIR]
//   npm run testhosts -- up --names mania,eros
//   npm run testhosts -- down [--run RUN_ID]   (the run recorded in the state folder; with none, every test host)
//   npm run testhosts -- image          (build the image if missing, print its tag)
//   npm run testhosts -- status         (print hosts.json of the state folder)
//
// State folder: $RIGGER_TESTHOSTS_DIR or <repo>/.testhosts (or --dir DIR).
import { parseArgs } from 'node:util';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { downHosts, readState, stateDir, upHosts } from './hosts.js';
import { ensureImage } from './image.js';

export { downHosts, isAlive, loadHosts, readState, stateDir, upHosts, DEPLOY_USER, PASSWORD_USER, PASSWORD, LABEL, RUN_LABEL, STATE_FILES } from './hosts.js';
export type { DownOptions, TestHost, TestHosts, TestHostsState, UpOptions } from './hosts.js';
export { ensureImage, imageTag } from './image.js';

const USAGE = `usage: testhosts up [--count N] [--name-prefix P] [--names a,b] [--groups g1,g2] [--fixtures DIR] [--dir DIR] [--json]
       testhosts down [--run RUN_ID] [--dir DIR]
       testhosts image
       testhosts status [--dir DIR]`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      count: { type: 'string', short: 'n' },
      'name-prefix': { type: 'string' },
      names: { type: 'string' },
      groups: { type: 'string' },
      fixtures: { type: 'string' },
      dir: { type: 'string' },
      run: { type: 'string' },
      'boot-timeout': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const cmd = positionals[0];
  if (values.help || !cmd) {
    console.log(USAGE);
    return cmd || values.help ? 0 : 1;
  }
  const list = (s?: string) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : undefined);
  switch (cmd) {
    case 'up': {
      const count = values.count === undefined ? undefined : Number(values.count);
      if (count !== undefined && (!Number.isInteger(count) || count < 1)) throw new Error(`--count must be a positive integer, got ${values.count}`);
      const t0 = Date.now();
      // Ctrl-C while starting: remove this run's containers instead of leaving them behind.
      const onSignal = (sig: NodeJS.Signals) => {
        process.stderr.write(`[testhosts] ${sig}: removing the hosts of this run\n`);
        readState(values.dir)
          .then((s) => (s && s.ownerPid === process.pid ? downHosts({ dir: values.dir, runId: s.runId }) : undefined))
          .finally(() => process.exit(130));
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const hosts = await upHosts({
        count,
        namePrefix: values['name-prefix'],
        names: list(values.names),
        groups: list(values.groups) ?? [],
        fixturesDir: values.fixtures,
        dir: values.dir,
        bootTimeoutMs: values['boot-timeout'] ? Number(values['boot-timeout']) * 1000 : undefined,
      });
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (values.json) {
        const { down: _down, get: _get, ...state } = hosts;
        console.log(JSON.stringify(state, null, 2));
      } else {
        for (const h of hosts.hosts) console.log(`${h.name.padEnd(12)} 127.0.0.1:${h.port}  ${h.containerName}`);
        const rel = (p: string) => path.relative(process.cwd(), p) || '.';
        console.log(`inventory: ${rel(hosts.inventory)}  (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
        console.log(`ssh: ssh -i ${rel(hosts.privateKey)} -o UserKnownHostsFile=${rel(hosts.knownHosts)} -p ${hosts.hosts[0].port} root@127.0.0.1`);
      }
      return 0;
    }
    case 'down': {
      await downHosts({ dir: values.dir, runId: values.run });
      return 0;
    }
    case 'image': {
      console.log(await ensureImage((m) => process.stderr.write(`[testhosts] ${m}\n`)));
      return 0;
    }
    case 'status': {
      const s = await readState(values.dir);
      if (!s) {
        console.error(`no test hosts recorded in ${stateDir(values.dir)}`);
        return 1;
      }
      console.log(JSON.stringify(s, null, 2));
      return 0;
    }
    default:
      console.error(`unknown command ${cmd}\n${USAGE}`);
      return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(`testhosts: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    },
  );
}
