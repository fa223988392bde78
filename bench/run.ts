/**
 * Runs every benchmark in bench/ (each `bench/*.ts` but this file), one after the other, then
 * gathers their bench/results/*.md sections into bench/RESULTS.md.
 *
 * Run: npm run bench (or `npm run bench -- NAME…` for some of them; the others' last sections
 * are kept).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';

const self = fileURLToPath(import.meta.url);
const benchDir = dirname(self);
const root = dirname(benchDir);
const resultsDir = join(benchDir, 'results');

const only = process.argv.slice(2).map((name) => (name.endsWith('.ts') ? name : `${name}.ts`));
const benchmarks = readdirSync(benchDir)
  .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts') && name !== basename(self))
  .filter((name) => only.length === 0 || only.includes(name))
  .sort();

for (const name of benchmarks) {
  const file = join(benchDir, name);
  console.log(`\n> node --import tsx ${relative(root, file)}\n`);
  const child = spawnSync(process.execPath, ['--import', 'tsx', file], {
    cwd: root,
    stdio: 'inherit',
  });
  if (child.error) throw child.error;
  if (child.status !== 0) {
    console.error(
      `\n${relative(root, file)} failed (${child.signal ?? `exit code ${child.status}`}); bench/RESULTS.md left as it was`,
    );
    process.exit(child.status ?? 1);
  }
}

const sections = existsSync(resultsDir)
  ? readdirSync(resultsDir)
      .filter((name) => name.endsWith('.md'))
      .sort()
      .map((name) => readFileSync(join(resultsDir, name), 'utf8').trim())
  : [];
const header = [
  '# Benchmark results',
  '',
  'Benchmark results — regenerate with `npm run bench`. Each section is written by the benchmark',
  'named in its title; figures are whatever that run measured on the machine it names.',
];
const resultsFile = join(benchDir, 'RESULTS.md');
// Formatted as `npm run format` would, so `npm run format:check` stays clean after a bench run.
const markdown = await format([header.join('\n'), ...sections].join('\n\n'), {
  ...(await resolveConfig(resultsFile)),
  filepath: resultsFile,
});
writeFileSync(resultsFile, markdown);
console.log(
  `\nWrote bench/RESULTS.md (${sections.length} section${sections.length === 1 ? '' : 's'})`,
);
