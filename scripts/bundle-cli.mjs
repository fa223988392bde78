/**
 * Bundles the command line (dist/cli/main.js, as tsc built it) into dist/cli-bundle/, so that
 * `vigil beat` from cron reads a handful of files instead of some 600 modules: Node's cost of
 * resolving, reading and linking each module was most of a command's start.
 *
 * `npm run build` runs it after tsc. bin/vigil.js runs the bundle when it is at least as new as
 * every file of tsc's output it was made from (inputs.json), and dist/cli/main.js otherwise (after
 * a `tsc` alone, or a change under `tsc --watch`), so a stale bundle never runs.
 *
 * - One chunk per part a command loads when it runs (esbuild's code splitting keeps every
 *   `await import()`): `vigil --help` still loads the parser alone, `vigil beat` no server.
 * - Bundled: Vigil's own modules and the packages the store commands load (BUNDLED). Every other
 *   package stays external, loaded from node_modules as before: the server's (fastify, pino,
 *   prom-client), the database clients (better-sqlite3 is native; pg, redis) and the mail client.
 * - The output sits one directory below dist/, as each module of dist/cli/ and dist/http/ does,
 *   so the paths a module finds beside itself (../../package.json, ../web/) are the same; the SDK's
 *   liveness worker, which the SDK starts from a file beside it, is an entry of its own here.
 * - modules.json lists, for each output file holding any, the packages bundled into it, so that a list of the
 *   files a command loaded still says which packages it loaded (test/cli-cold-start.test.ts,
 *   bench/cold-start.ts).
 *
 * Run: node scripts/bundle-cli.mjs (after tsc -p tsconfig.build.json).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'cli-bundle');

/** Packages bundled: pure JavaScript, and loaded by the commands cron runs. */
const BUNDLED = new Set(['commander', 'kysely', 'zod', 'yaml', 'croner']);

/** @type {unknown} */
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const pkg = /** @type {{ dependencies: Record<string, string> }} */ (manifest);
const external = Object.keys(pkg.dependencies).filter((name) => !BUNDLED.has(name));
for (const name of BUNDLED) {
  if (!(name in pkg.dependencies)) throw new Error(`bundle-cli: ${name} is not a dependency`);
}

rmSync(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: {
    main: 'dist/cli/main.js',
    'liveness-worker': 'dist/sdk/liveness-worker.js',
  },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22.12',
  // Each external package by name and by any path inside it (pg/lib/…, redis subpaths).
  external: [...external, ...external.map((name) => `${name}/*`)],
  // Bundled CommonJS (commander, yaml) calls require() for Node's built-ins.
  banner: {
    js: "import { createRequire as __vigilCreateRequire } from 'node:module'; const require = __vigilCreateRequire(import.meta.url);",
  },
  chunkNames: 'chunk-[hash]',
  minifySyntax: true,
  minifyWhitespace: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});

/**
 * The package a bundled input came from, or undefined for Vigil's own modules.
 * @param {string} input
 */
function packageOf(input) {
  return /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1];
}

/** @type {Record<string, string[]>} */
const modules = {};
for (const [output, { inputs }] of Object.entries(result.metafile.outputs)) {
  const packages = new Set(Object.keys(inputs).flatMap((input) => packageOf(input) ?? []));
  if (packages.size > 0) modules[relative(outdir, join(root, output))] = [...packages].sort();
}
writeFileSync(join(outdir, 'modules.json'), `${JSON.stringify(modules, null, 2)}\n`);

// tsc's outputs the bundle was made from: bin/vigil.js runs tsc's output instead when any of them
// is newer than the bundle (`tsc --watch` rewrites only the files that changed).
const inputs = Object.keys(result.metafile.inputs)
  .filter((input) => packageOf(input) === undefined && input.startsWith('dist/'))
  .map((input) => relative(join(root, 'dist'), join(root, input)))
  .sort();
writeFileSync(join(outdir, 'inputs.json'), `${JSON.stringify(inputs)}\n`);
