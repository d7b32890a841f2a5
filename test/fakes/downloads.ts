/**
 * Stand-ins for release downloads tests cannot fetch: GitLab's docker-machine
 * fork and the Scaleway driver the production inventory chose (linka-cloud's
 * scaleway-v2 fork). Small POSIX sh scripts laid out like their download URLs,
 * with their sha256, so a "verified download" resource can be tested with
 * `file:` URLs (DIR is mounted into test hosts).
 *
 *   DIR/docker-machine/v0.16.2-gitlab.30/docker-machine-Linux-x86_64
 *     (real: https://gitlab-docker-machine-downloads.s3.amazonaws.com/<version>/docker-machine-Linux-x86_64)
 *   DIR/docker-machine-driver-scaleway-v2/v2.0.0-5cfe31f/docker-machine-driver-scaleway-v2
 *     (real: none published; a build of that commit at a URL the operator controls, see inventory/hosts.toml)
 *
 * Content is deterministic: the sha256 values are stable across rebuilds.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

export interface FakeDownload {
  /** Absolute path of the file. */
  path: string;
  /** Path relative to DIR (for `file:` URLs inside a test host). */
  relPath: string;
  /** sha256 of the file, lower-case hex. */
  sha256: string;
  version: string;
}

export interface FakeDownloads {
  dockerMachine: FakeDownload;
  scalewayDriver: FakeDownload & { name: 'scaleway-v2'; binary: 'docker-machine-driver-scaleway-v2'; options: readonly string[] };
}

export const DOCKER_MACHINE_VERSION = 'v0.16.2-gitlab.30';
export const SCALEWAY_DRIVER_VERSION = 'v2.0.0-5cfe31f';
/** The create flags of linka-cloud's scaleway-v2 driver (driver/scaleway.go, GetCreateFlags, commit 5cfe31f). */
export const SCALEWAY_V2_OPTIONS = [
  'scaleway-accesskey', 'scaleway-secretkey', 'scaleway-project-id', 'scaleway-name', 'scaleway-commercial-type', 'scaleway-zone',
  'scaleway-image', 'scaleway-bootscript', 'scaleway-ip', 'scaleway-root-volume-size', 'scaleway-root-volume-type', 'scaleway-debug', 'scaleway-ipv6',
] as const;

function dockerMachineScript(version: string) {
  const v = version.replace(/^v/, '');
  return `#!/bin/sh
# docker-machine TEST DOUBLE (rigger test/fakes/downloads.ts). Creates no machines.
case "\${1:-}" in
  version|--version|-v)
    echo "docker-machine version ${v}, build 0fake000"
    ;;
  ls)
    # No machines exist. \`ls -q\` prints nothing; plain \`ls\` prints the header.
    case " $* " in
      *" -q "*|*" --quiet "*) ;;
      *) echo "NAME   ACTIVE   DRIVER   STATE   URL   SWARM   DOCKER   ERRORS" ;;
    esac
    ;;
  rm)
    shift
    for a in "$@"; do case "$a" in -*) ;; *) echo "Host does not exist: \\"$a\\"" >&2; exit 1 ;; esac; done
    ;;
  help|--help|-h|'')
    echo "Usage: docker-machine [OPTIONS] COMMAND [arg...]  (test double: version, ls, rm)"
    ;;
  *)
    echo "docker-machine test double: command '$1' is not implemented" >&2
    exit 1
    ;;
esac
`;
}

function scalewayDriverScript(version: string) {
  return `#!/bin/sh
# docker-machine-driver-scaleway-v2 TEST DOUBLE (rigger test/fakes/downloads.ts).
case "\${1:-}" in
  version|--version|-v)
    echo "docker-machine-driver-scaleway-v2 ${version.replace(/^v/, '')} (test double)"
    ;;
  *)
    echo "This is a Docker Machine plugin binary."
    echo "Plugin binaries are not intended to be invoked directly."
    echo "Please use this plugin through the main 'docker-machine' binary."
    echo "(API version information: 1)"
    exit 1
    ;;
esac
`;
}

async function writeExecutable(dir: string, relPath: string, content: string, version: string): Promise<FakeDownload> {
  const file = path.join(dir, relPath);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const sha256 = createHash('sha256').update(content).digest('hex');
  const existing = await fs.readFile(file, 'utf8').catch(() => null);
  if (existing === content) {
    await fs.chmod(file, 0o755);
    return { path: file, relPath, sha256, version };
  }
  // Write-then-rename so a concurrent reader never sees a half-written file.
  const tmp = `${file}.tmp-${process.pid}`;
  await fs.writeFile(tmp, content);
  await fs.chmod(tmp, 0o755);
  await fs.rename(tmp, file);
  for (let d = path.dirname(file); d.startsWith(dir) && d !== dir; d = path.dirname(d)) await fs.chmod(d, 0o755);
  return { path: file, relPath, sha256, version };
}

export async function buildFakeDownloads(dir: string): Promise<FakeDownloads> {
  const root = path.resolve(dir);
  await fs.mkdir(root, { recursive: true });
  await fs.chmod(root, 0o755);
  const dockerMachine = await writeExecutable(
    root,
    path.posix.join('docker-machine', DOCKER_MACHINE_VERSION, 'docker-machine-Linux-x86_64'),
    dockerMachineScript(DOCKER_MACHINE_VERSION),
    DOCKER_MACHINE_VERSION,
  );
  const driver = await writeExecutable(
    root,
    path.posix.join('docker-machine-driver-scaleway-v2', SCALEWAY_DRIVER_VERSION, 'docker-machine-driver-scaleway-v2'),
    scalewayDriverScript(SCALEWAY_DRIVER_VERSION),
    SCALEWAY_DRIVER_VERSION,
  );
  return { dockerMachine, scalewayDriver: { ...driver, name: 'scaleway-v2', binary: 'docker-machine-driver-scaleway-v2', options: SCALEWAY_V2_OPTIONS } };
}
