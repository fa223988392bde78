/**
 * Vigil's dependency rules (`npm run lint` runs them): which part of src/ may import which, and no
 * import cycle between files. Every folder and top-level file under src/ must be a part below;
 * the check refuses to run when one is not (a new folder gets its rule with the commit adding it).
 * The parts form layers, so no cycle between folders is possible either (checked here too).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** The adapters: each talks to one outside thing, and knows nothing of the engine or each other. */
const ADAPTER = ['core', 'ports', 'shared', 'errors', 'schemas'];

/**
 * Each part: what it is (its paths under src/) and the parts it may import besides itself.
 * Dependencies point inward: core ← ports ← adapters/runtime ← config ← app ← http ← cli.
 */
/** @type {Record<string, { paths: string[]; may: string[] }>} */
const PARTS = {
  /** Pure: types, judge(), decide(), limits, backoff. No I/O, no clock, no environment. */
  core: { paths: ['core/'], may: [] },
  /** The interfaces between the engine and the adapters (one file per port; ports.ts is the rest). */
  ports: { paths: ['ports/', 'ports.ts'], may: ['core'] },
  /** Error classes with stable codes. */
  errors: { paths: ['errors.ts'], may: [] },
  /** Zod schemas for durations and limits, shared by every configuration section. */
  schemas: { paths: ['schemas.ts'], may: ['core'] },
  /** Small utilities the adapters and the engine share: timers, periodic checks, HTTP, /proc. */
  shared: { paths: ['shared/'], may: ['core', 'ports', 'errors', 'schemas'] },
  stores: { paths: ['stores/'], may: ADAPTER },
  sources: { paths: ['sources/'], may: ADAPTER },
  supervisor: { paths: ['supervisor/'], may: ADAPTER },
  probes: { paths: ['probes/'], may: ADAPTER },
  notify: { paths: ['notify/'], may: ADAPTER },
  owners: { paths: ['owners/'], may: ADAPTER },
  /** The `schedules:` section: work that must start on a cron or a period. */
  schedules: { paths: ['schedules/'], may: ADAPTER },
  /** The engine only: ledger, sweep, scheduler, slots, the service. Adapters come through ports. */
  runtime: { paths: ['runtime/'], may: ['core', 'ports', 'shared', 'errors', 'schemas'] },
  /** JSON shapes of the public API. */
  present: { paths: ['present.ts'], may: ['core', 'ports'] },
  /** The configuration file: its own keys, and each adapter's section of it. */
  config: {
    paths: ['config.ts'],
    may: [...ADAPTER, 'stores', 'sources', 'supervisor', 'probes', 'notify', 'owners', 'schedules'],
  },
  /** The composition root: the one part that knows every adapter and the engine. */
  app: {
    paths: ['app/'],
    may: [
      ...ADAPTER,
      'stores',
      'sources',
      'supervisor',
      'probes',
      'notify',
      'owners',
      'schedules',
    ].concat(['runtime', 'present', 'config']),
  },
  /** The HTTP API: routes over the engine, given a composed Vigil by the app. */
  http: {
    paths: ['http/'],
    may: ['core', 'ports', 'shared', 'errors', 'schemas', 'runtime', 'present', 'config', 'app'],
  },
  /** What Node runners import (published as vigil/sdk): nothing of the server. */
  sdk: { paths: ['sdk/'], may: ['core', 'ports', 'shared'] },
  /** The command line: an edge like the app, so it may use any part (never the public index). */
  cli: {
    paths: ['cli/'],
    may: [
      ...ADAPTER,
      'stores',
      'sources',
      'supervisor',
      'probes',
      'notify',
      'owners',
      'schedules',
      'runtime',
      'present',
      'config',
      'app',
      'http',
      'sdk',
    ],
  },
  /** The library's public entry (`vigil`): re-exports for programs that embed Vigil. */
  index: {
    paths: ['index.ts'],
    may: [...ADAPTER, 'stores', 'runtime', 'present', 'config', 'app'],
  },
};

/** @param {string} text */
const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/**
 * A regex (as text) matching the modules of these parts.
 * @param {string[]} names
 */
const pathsOf = (names) =>
  `^src/(${names.flatMap((name) => PARTS[name].paths.map(escape)).join('|')})`;

/** Fails the lint when a folder or file directly under src/ belongs to no part. */
function assertEveryPartCovered() {
  const covered = Object.values(PARTS).flatMap((part) => part.paths);
  const missing = readdirSync(join(import.meta.dirname, 'src'), { withFileTypes: true })
    .map((entry) => (entry.isDirectory() ? `${entry.name}/` : entry.name))
    .filter((name) => !covered.includes(name));
  if (missing.length > 0) {
    throw new Error(
      `.dependency-cruiser.js: src/${missing.join(', src/')} belongs to no part; add it to PARTS with the parts it may import`,
    );
  }
}

/** Fails when the parts' allowed imports form a cycle: then folders could import each other. */
function assertLayered() {
  /** @type {Map<string, 'visiting' | 'done'>} */
  const state = new Map();
  /**
   * @param {string} name
   * @param {string[]} trail
   */
  const visit = (name, trail) => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      throw new Error(
        `.dependency-cruiser.js: parts allowed in a cycle: ${[...trail, name].join(' → ')}`,
      );
    }
    state.set(name, 'visiting');
    for (const next of PARTS[name].may) {
      if (!PARTS[next])
        throw new Error(`.dependency-cruiser.js: ${name} may import unknown part ${next}`);
      visit(next, [...trail, name]);
    }
    state.set(name, 'done');
  };
  for (const name of Object.keys(PARTS)) visit(name, []);
}

assertEveryPartCovered();
assertLayered();

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    ...Object.entries(PARTS).map(([name, part]) => ({
      name: `${name}-imports`,
      comment: `src/${part.paths.join(', src/')} may import only ${
        part.may.length > 0 ? part.may.join(', ') : 'itself'
      } (see PARTS in .dependency-cruiser.js)`,
      severity: 'error',
      from: { path: pathsOf([name]) },
      to: { path: '^src/', pathNot: pathsOf([name, ...part.may]) },
    })),
    {
      name: 'no-circular',
      comment: 'A cycle between files: one of them belongs in a module both may import.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that does not resolve to a file.',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test\\.ts$|^src/core/fixtures\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.json'],
    },
  },
};
