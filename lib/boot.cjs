// Fast start for playbooks run directly: `./playbooks/runner.ts` has the
// shebang `node ./lib/boot.cjs`, so Node runs this file with the playbook's
// path as its first argument. Instead of compiling every module through
// tsx's loader at each start (~0.6 s), the playbook, the lib/ and roles/
// modules it imports and the packages they use are bundled once with esbuild
// into one CommonJS file in node_modules/.cache/rigger/, and that file is run
// with V8's code cache (the compiled functions of an earlier run), so a start
// neither resolves hundreds of modules nor parses 2 MB of JavaScript.
// The bundle is rebuilt whenever one of its inputs (or this file, esbuild or
// Node) changed, so an edited role never runs stale.
//
// Plain CommonJS on purpose: this file runs before anything can compile
// TypeScript, and as the main module it spares Node its ES module loader
// (~7 ms of every start). Anything that is not a playbook under playbooks/
// runs through tsx as before.

'use strict';
const { createHash } = require('node:crypto');
const Module = require('node:module');
const { createRequire } = Module;
const vm = require('node:vm');
const { mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } = require('node:fs');
const { basename, dirname, join, relative, resolve } = require('node:path');
const { pathToFileURL } = require('node:url');

const ROOT = resolve(__dirname, '..');
const CACHE = process.env.RIGGER_CACHE_DIR ? resolve(process.env.RIGGER_CACHE_DIR) : join(ROOT, 'node_modules', '.cache', 'rigger');
/** esbuild namespaces of the modules the build makes up (not files: esbuild names them "namespace:path") */
const MADE_UP = { englishOnly: 'english-only', leftOut: 'left-out' };
// The playbook takes this file's place in process.argv, as if Node ran it
// directly: a playbook recognises itself as the main script by argv[1].
process.argv.splice(1, 1);
const main = process.argv[1] ? realpathSync(process.argv[1]) : '';

if (!main) {
  process.stderr.write('usage: node lib/boot.cjs playbooks/<name>.ts [flags]\n');
  process.exitCode = 1;
} else if (process.env.RIGGER_NO_BUNDLE || !isPlaybook(main)) {
  // tsx's loader (as `node --import tsx` would register it), then the file itself
  import('tsx').then(() => import(pathToFileURL(main).href)).catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
} else {
  const key = createHash('sha256').update(main).digest('hex').slice(0, 12);
  const bundle = join(CACHE, `${basename(main, '.ts')}-${key}.cjs`);
  const manifest = `${bundle}.inputs.json`;
  const built = readFresh(manifest);
  if (built) runBundle(bundle, built.hash);
  else
    build(main, bundle, manifest).then(
      (b) => runBundle(bundle, b.hash),
      (e) => {
        process.stderr.write(`rigger: cannot build ${relative(process.cwd(), main)}: ${e.message}\n`);
        process.exitCode = 1;
      },
    );
}

function isPlaybook(file) {
  if (!file.endsWith('.ts')) return false;
  const rel = relative(ROOT, file);
  return rel.startsWith('playbooks/') || rel.startsWith(`playbooks\\`);
}

/** The manifest of the last build if none of its inputs changed (size and mtime), else undefined. */
function readFresh(manifest) {
  let recorded;
  try {
    recorded = JSON.parse(readFileSync(manifest, 'utf8'));
  } catch {
    return undefined;
  }
  if (recorded.stamp !== stamp() || typeof recorded.hash !== 'string') return undefined;
  for (const [file, sig] of Object.entries(recorded.inputs)) {
    try {
      const st = statSync(join(ROOT, file));
      if (`${st.size}:${st.mtimeMs}` !== sig) return undefined;
    } catch {
      return undefined;
    }
  }
  return recorded;
}

/**
 * Runs the bundle as Node runs a CommonJS module, with V8's code cache when
 * there is one for exactly this bundle (its file name carries the bundle's
 * hash: V8 itself only compares the source's length). Without one, the
 * functions this run compiled are saved when it exits, for the next start.
 */
function runBundle(bundle, hash) {
  const cacheFile = `${bundle}.${hash}.v8cache`;
  // the shebang esbuild keeps is not valid inside the module wrapper (a comment keeps line numbers)
  const source = readFileSync(bundle, 'utf8').replace(/^#!/, '//');
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    /* first run of this bundle */
  }
  const script = new vm.Script(Module.wrap(source), { filename: bundle, cachedData, importModuleDynamically: vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER });
  if (!cachedData || script.cachedDataRejected) {
    process.once('exit', () => {
      try {
        writeAtomically(cacheFile, script.createCachedData());
      } catch {
        /* only a slower next start */
      }
    });
  }
  // packages left outside the bundle (native addons) resolve from the project, wherever the cache is
  const requireFromRoot = createRequire(join(ROOT, 'package.json'));
  const module = { exports: {}, id: bundle, filename: bundle, loaded: false };
  script.runInThisContext().call(module.exports, module.exports, requireFromRoot, module, bundle, dirname(bundle));
}

/** What else a build depends on: this file, the esbuild version, Node's version. */
function stamp() {
  const self = statSync(__filename);
  const esbuildVersion = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'esbuild', 'package.json'), 'utf8')).version;
  return `${self.size}:${self.mtimeMs}|esbuild ${esbuildVersion}|node ${process.version}`;
}

async function build(entry, bundle, manifest) {
  const esbuild = require('esbuild');
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
  // A native addon (ssh2's crypto binding) stays a file of its own, required by its absolute path.
  const nativeAddons = {
    name: 'native-addons',
    setup(b) {
      b.onResolve({ filter: /\.node$/ }, (args) => ({ path: resolve(args.resolveDir, args.path), external: true }));
    },
  };
  // Parts of packages no run uses, left out because every start would parse
  // and evaluate them: zod's 63 translations of its messages (~290 KB; the
  // English one it configures itself stays), and ssh2's HTTP agents, which
  // would load Node's http, https and tls modules.
  const unusedParts = {
    name: 'unused-package-parts',
    setup(b) {
      b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
        args.resolveDir.includes(join('node_modules', 'zod', '')) ? { path: resolve(args.resolveDir, '../locales/en.js'), namespace: MADE_UP.englishOnly } : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: MADE_UP.englishOnly }, (args) => ({ contents: `export { default as en } from ${JSON.stringify(args.path)};`, resolveDir: dirname(args.path) }));
      b.onResolve({ filter: /^\.\/http-agents\.js$/ }, (args) =>
        args.resolveDir.includes(join('node_modules', 'ssh2', '')) ? { path: 'ssh2-http-agents', namespace: MADE_UP.leftOut } : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: MADE_UP.leftOut }, () => ({ contents: 'module.exports = {};', loader: 'js' }));
    },
  };
  const result = await esbuild.build({
    entryPoints: [entry],
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${process.versions.node.split('.')[0]}`,
    // only what is needed to build or is native stays outside
    external: ['esbuild', 'tsx', 'cpu-features'],
    // smaller to read and parse; names are kept (error messages and stack traces name them)
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: true,
    outfile: bundle,
    write: false,
    metafile: true,
    logLevel: 'silent',
    plugins: [nativeAddons, unusedParts, ownUrl],
  });
  mkdirSync(CACHE, { recursive: true });
  const inputs = {};
  for (const file of Object.keys(result.metafile.inputs)) {
    if (Object.values(MADE_UP).some((ns) => file.startsWith(`${ns}:`))) continue; // made up by unusedParts, not files
    const abs = resolve(ROOT, file);
    const st = statSync(abs);
    inputs[relative(ROOT, abs)] = `${st.size}:${st.mtimeMs}`;
  }
  const contents = result.outputFiles[0].contents;
  const hash = createHash('sha256').update(contents).digest('hex').slice(0, 16);
  // the code caches of earlier builds of this playbook are of no use any more
  for (const f of readdirSync(CACHE)) if (f.startsWith(`${basename(bundle)}.`) && f.endsWith('.v8cache') && !f.includes(hash)) rmSync(join(CACHE, f), { force: true });
  // Written under temporary names and renamed: a concurrent run never reads half a bundle.
  writeAtomically(bundle, contents);
  const recorded = { stamp: stamp(), hash, inputs };
  writeAtomically(manifest, JSON.stringify(recorded));
  return recorded;
}

function writeAtomically(file, contents) {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, contents);
  renameSync(tmp, file);
}
