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
const { runMain } = await import('../dist/cli/main.js');
process.exitCode = await runMain(process.argv.slice(2));
