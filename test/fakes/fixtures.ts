/**
 * Builds every file fixture test hosts need, in one folder that test hosts
 * mount read-only at /srv/fixtures:
 *
 *   DIR/apt/        signed apt repository (gitlab-runner, gitlab-runner-helper-images)
 *   DIR/downloads/  docker-machine and Scaleway driver stand-ins
 *
 * Default DIR: <repo>/test/fakes/fixtures (git-ignored). Cached: calling it
 * again is cheap (the apt repository is rebuilt only when its version changes).
 *
 * CLI: `tsx test/fakes/fixtures.ts [DIR]` builds them and prints the result as JSON.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildFakeAptRepo, type FakeAptRepo } from './aptrepo.js';
import { buildFakeDownloads, type FakeDownloads } from './downloads.js';

/** Where test hosts see the fixtures folder. */
export const FIXTURES_MOUNT = '/srv/fixtures';
export const DEFAULT_FIXTURES_DIR = fileURLToPath(new URL('./fixtures', import.meta.url));

export interface Fixtures {
  /** Absolute path of the fixtures folder on the control machine. */
  dir: string;
  apt: FakeAptRepo;
  downloads: FakeDownloads;
  /** The same things as seen from inside a test host (folder mounted at /srv/fixtures). */
  inHost: {
    mount: string;
    /** e.g. file:/srv/fixtures/apt */
    aptUrl: string;
    /** ASCII-armored key, to dearmor into /etc/apt/keyrings (like packages.gitlab.com's gpgkey). */
    aptKeyFile: string;
    /** file:///srv/fixtures/apt/gpgkey.asc */
    aptKeyUrl: string;
    /** Builds a one-line source for a keyring path, e.g. `deb [signed-by=K] file:/srv/fixtures/apt bookworm main`. */
    aptSourceLine(keyring: string): string;
    dockerMachineUrl: string;
    scalewayDriverUrl: string;
  };
}

export async function prepareFixtures(dir: string = DEFAULT_FIXTURES_DIR, opts: { aptVersion?: string } = {}): Promise<Fixtures> {
  const root = path.resolve(dir);
  const [apt, downloads] = await Promise.all([
    buildFakeAptRepo(path.join(root, 'apt'), { version: opts.aptVersion }),
    buildFakeDownloads(path.join(root, 'downloads')),
  ]);
  const inHostPath = (abs: string) => path.posix.join(FIXTURES_MOUNT, path.relative(root, abs).split(path.sep).join('/'));
  const aptUrl = `file:${inHostPath(apt.repoDir)}`;
  return {
    dir: root,
    apt,
    downloads,
    inHost: {
      mount: FIXTURES_MOUNT,
      aptUrl,
      aptKeyFile: inHostPath(apt.keyFile),
      aptKeyUrl: `file://${inHostPath(apt.keyFile)}`,
      aptSourceLine: (keyring: string) => `deb [signed-by=${keyring}] ${aptUrl} ${apt.codename} ${apt.component}`,
      dockerMachineUrl: `file://${inHostPath(downloads.dockerMachine.path)}`,
      scalewayDriverUrl: `file://${inHostPath(downloads.scalewayDriver.path)}`,
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  prepareFixtures(process.argv[2]).then(
    (f) => process.stdout.write(`${JSON.stringify({ ...f, inHost: { ...f.inHost, aptSourceLine: undefined } }, null, 2)}\n`),
    (e: unknown) => {
      process.stderr.write(`fixtures: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
