#!/usr/bin/env node
// Checked before anything is loaded: on an older Node the SQLite driver crashes the process
// instead of failing with a message.
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(
    `vigil: needs Node.js 22.12 or later (tested on 22, 24 and 26); this is ${process.version} at ${process.execPath}\n`,
  );
  process.exit(2);
}
// Node keeps the compiled code of the modules a command loads and reuses it on the next run: a
// command run from cron starts sooner. The cache is the user's own (XDG_CACHE_HOME, or ~/.cache),
// not the shared temporary directory, so no other user can plant code in it; NODE_COMPILE_CACHE
// names another, NODE_DISABLE_COMPILE_CACHE=1 turns it off. Where it cannot be written nothing
// changes.
const { enableCompileCache } = await import('node:module');
const os = await import('node:os');
const path = await import('node:path');
const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
enableCompileCache?.(
  process.env.NODE_COMPILE_CACHE || path.join(cacheHome, 'vigil', 'compile-cache'),
);
// The command line bundled into a few files (scripts/bundle-cli.mjs, run by `npm run build`) when
// it is at least as new as every file of tsc's output it was made from (inputs.json); tsc's output
// runs otherwise (after a `tsc` alone, or a change under `tsc --watch`). The bundle reads a few
// files where tsc's output reads some 600 modules, most of a command's start.
const { readFileSync, statSync } = await import('node:fs');
const dist = path.join(import.meta.dirname, '..', 'dist');
/** @param {string} file */
const builtAt = (file) => statSync(path.join(dist, file), { throwIfNoEntry: false })?.mtimeMs ?? -1;
const bundleIsCurrent = () => {
  const bundled = builtAt('cli-bundle/main.js');
  if (bundled < 0) return false;
  try {
    /** @type {unknown} */
    const inputs = JSON.parse(readFileSync(path.join(dist, 'cli-bundle', 'inputs.json'), 'utf8'));
    if (!Array.isArray(inputs)) return false;
    return inputs.every((input) => typeof input === 'string' && builtAt(input) <= bundled);
  } catch {
    return false;
  }
};
/** @type {typeof import('../dist/cli/main.js')} */
const { runMain } = bundleIsCurrent()
  ? await import('../dist/cli-bundle/main.js')
  : await import('../dist/cli/main.js');
process.exitCode = await runMain(process.argv.slice(2));
