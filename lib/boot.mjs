// Fast start for playbooks run directly: `./playbooks/runner.ts` has the
// shebang `node --import ./lib/boot.mjs`. Instead of compiling every module
// through tsx's loader at each start (~0.6 s), the playbook and the lib/ and
// roles/ modules it imports are bundled once with esbuild into
// node_modules/.cache/rigger/, and the bundle is run. The bundle is rebuilt
// whenever one of its inputs (or this file, or esbuild) changed, so an edited
// role never runs stale. Dependencies in node_modules stay outside the bundle.
//
// Plain JavaScript on purpose: this file runs before anything can compile
// TypeScript. Anything that is not a playbook under playbooks/ runs through
// tsx as before.
import { createHash } from 'node:crypto';
import process from 'node:process';
import { mkdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = process.env.RIGGER_CACHE_DIR ? resolve(process.env.RIGGER_CACHE_DIR) : join(ROOT, 'node_modules', '.cache', 'rigger');
const main = process.argv[1] ? realpathSync(process.argv[1]) : '';

if (process.env.RIGGER_NO_BUNDLE || !isPlaybook(main)) {
  await import('tsx');
} else {
  const key = createHash('sha256').update(main).digest('hex').slice(0, 12);
  const bundle = join(CACHE, `${basename(main, '.ts')}-${key}.mjs`);
  const manifest = `${bundle}.inputs.json`;
  if (!isFresh(manifest)) await build(main, bundle, manifest);
  await import(pathToFileURL(bundle).href);
  // The bundle is the playbook: it runs and exits by itself. Never let Node
  // go on to load the .ts file as the main module (it would run twice).
  await new Promise((resolveWait) => process.once('beforeExit', resolveWait));
  process.exit(process.exitCode ?? 0);
}

function isPlaybook(file) {
  if (!file.endsWith('.ts')) return false;
  const rel = relative(ROOT, file);
  return rel.startsWith('playbooks/') || rel.startsWith(`playbooks\\`);
}

/** Inputs of the last build, with their size and mtime: fresh when none changed. */
function isFresh(manifest) {
  let recorded;
  try {
    recorded = JSON.parse(readFileSync(manifest, 'utf8'));
  } catch {
    return false;
  }
  if (recorded.stamp !== stamp()) return false;
  for (const [file, sig] of Object.entries(recorded.inputs)) {
    try {
      const st = statSync(join(ROOT, file));
      if (`${st.size}:${st.mtimeMs}` !== sig) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** What else a build depends on: this file, the esbuild version, Node's version. */
function stamp() {
  const self = statSync(fileURLToPath(import.meta.url));
  const esbuildVersion = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'esbuild', 'package.json'), 'utf8')).version;
  return `${self.size}:${self.mtimeMs}|esbuild ${esbuildVersion}|node ${process.version}`;
}

async function build(entry, bundle, manifest) {
  const esbuild = await import('esbuild');
  // Each module keeps its own import.meta.url (roles find their templates and
  // files next to their source; a playbook recognises itself as the main script).
  const ownUrl = {
    name: 'own-import-meta-url',
    setup(b) {
      b.onLoad({ filter: /\.[cm]?ts$/ }, (args) => {
        if (args.path.includes(`${join('node_modules', '')}`)) return undefined;
        const source = readFileSync(args.path, 'utf8');
        return { contents: source.replace(/\bimport\.meta\.url\b/g, JSON.stringify(pathToFileURL(args.path).href)), loader: 'ts' };
      });
    },
  };
  const result = await esbuild.build({
    entryPoints: [entry],
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: `node${process.versions.node.split('.')[0]}`,
    packages: 'external',
    outfile: bundle,
    write: false,
    metafile: true,
    sourcemap: 'inline',
    sourcesContent: false,
    logLevel: 'silent',
    plugins: [ownUrl],
  });
  mkdirSync(CACHE, { recursive: true });
  const inputs = {};
  for (const file of Object.keys(result.metafile.inputs)) {
    const abs = resolve(ROOT, file);
    const st = statSync(abs);
    inputs[relative(ROOT, abs)] = `${st.size}:${st.mtimeMs}`;
  }
  // Written under temporary names and renamed: a concurrent run never reads half a bundle.
  const tmp = `${bundle}.${process.pid}.tmp`;
  writeFileSync(tmp, result.outputFiles[0].contents);
  renameSync(tmp, bundle);
  writeFileSync(`${manifest}.${process.pid}.tmp`, JSON.stringify({ stamp: stamp(), inputs }));
  renameSync(`${manifest}.${process.pid}.tmp`, manifest);
}
