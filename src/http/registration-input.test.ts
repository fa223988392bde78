import { describe, expect, it } from 'vitest';
import { newExecutionSchema, parseInput } from '../runtime/ledger.js';
import { parseRegistration } from './registration-input.js';

/** What the schema answers: its output, or the message of the error it throws. */
function bySchema(input: unknown): unknown {
  try {
    return parseInput(newExecutionSchema, input, 'body');
  } catch (error) {
    return (error as Error).message;
  }
}

function byParse(input: unknown): unknown {
  try {
    return parseRegistration(input, 'body');
  } catch (error) {
    return (error as Error).message;
  }
}

let deep: unknown = 1;
for (let i = 0; i < 80; i++) deep = i % 2 ? [deep] : { d: deep };

const inputs: unknown[] = [
  { kind: 'k' },
  { id: 'a-1', kind: 'bench', status: 'queued', metadata: { n: 1 } },
  { id: 'a/b:c@d.e_f', kind: 'k', owner: 'o', parentId: 'p', status: 'running' },
  { kind: 'k', owner: null, parentId: null },
  { kind: 'k', metadata: { a: [1, 'x', true, null, { b: [] }], c: {}, '': -0.5 } },
  { kind: 'k', limits: { run: '30s', heartbeat: 1_000, progress: null } },
  { kind: 'k', limits: { run: 0 } },
  { kind: 'k', limits: { run: '30s', other: 1 } },
  { kind: 'k', limits: [] },
  { kind: 'k', metadata: { deep } },
  { kind: 'k', metadata: { n: Infinity } },
  { kind: 'k', metadata: { n: NaN } },
  { kind: 'k', metadata: { d: new Date(0) } },
  { kind: 'k', metadata: { f: () => 1 } },
  { kind: 'k', metadata: { u: undefined } },
  JSON.parse('{"kind":"k","metadata":{"__proto__":{"x":1},"a":1}}'),
  { kind: 'k', metadata: [] },
  { kind: 'k', metadata: null },
  { kind: 'k', metadata: 'x' },
  { kind: 'k', metadata: Object.create(null) as object },
  { kind: 'k', extra: 1 },
  { kind: '' },
  { kind: 'k'.repeat(200) },
  { kind: 'k'.repeat(201) },
  { kind: 'a\u0000b' },
  { kind: 'a\nb' },
  { kind: 'ü ✓ 名前' },
  { kind: 1 },
  {},
  { id: '', kind: 'k' },
  { id: 'a b', kind: 'k' },
  { id: 'a'.repeat(201), kind: 'k' },
  { id: 1, kind: 'k' },
  { kind: 'k', owner: '' },
  { kind: 'k', parentId: 'a\tb' },
  { kind: 'k', status: 'succeeded' },
  { kind: 'k', status: null },
  null,
  [],
  'x',
  1,
  new Map(),
];

describe('parseRegistration', () => {
  it.each(inputs.map((input, i) => [i, input]))(
    'answers input %i as the schema does',
    (_i, input) => {
      expect(byParse(input)).toEqual(bySchema(input));
    },
  );
});
