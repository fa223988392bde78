/** The translation behind `vigil proc import` (see proc-import.ts). */
import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Document, isMap, parseDocument, visit } from 'yaml';
import { loadConfig } from '../../config.js';
import { BadInputError, VigilError } from '../../errors.js';
import { processesSchema } from '../../supervisor/config.js';
import type { ImportedProcesses } from '../../supervisor/import-config.js';
import { importProcessConfig } from '../../supervisor/import-config.js';
import type { CliIo, GlobalOptions } from '../context.js';

/** Prints the translation of `file`, or adds it to vigil.yaml (or --config) with --write. */
export function importProcesses(
  io: CliIo,
  file: string,
  options: { write?: boolean },
  globals: GlobalOptions,
): void {
  const imported = importProcessConfig(readJson(resolve(io.cwd, file), file));
  const problems = checkLoads(imported);
  if (problems.length > 0) throw new BadInputError(problems);
  for (const note of imported.notes) io.err(`note: ${note}`);
  if (!options.write) {
    const doc = new Document({});
    addProcesses(doc, imported);
    io.out(doc.toString({ lineWidth: 0 }).trimEnd());
    return;
  }
  const target = resolve(io.cwd, globals.config ?? 'vigil.yaml');
  writeInto(io, target, imported, globals);
  const names = Object.keys(imported.processes);
  io.out(`added ${names.length} process(es) to ${target}: ${names.join(', ') || 'none'}`);
}

function readJson(path: string, given: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new BadInputError([
      `FILE: cannot read ${given} (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    ]);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new BadInputError([`FILE: expected JSON in ${given}, got ${(error as Error).message}`]);
  }
}

/** The translation must load as Vigil's own configuration; anything else is a bug, said plainly. */
function checkLoads(imported: ImportedProcesses): string[] {
  const parsed = processesSchema.safeParse(imported.processes);
  if (parsed.success) return [];
  return parsed.error.issues.map(
    (issue) => `processes.${issue.path.join('.')}: the translation does not load: ${issue.message}`,
  );
}

/**
 * Adds the imported processes to `doc` under `processes:`, their lists in flow style and display
 * names as comments; the rest of the document stays as it was.
 */
function addProcesses(doc: Document, imported: ImportedProcesses): void {
  if (!doc.has('processes')) doc.set('processes', doc.createNode({}));
  const processes = doc.get('processes');
  if (!isMap(processes)) return;
  for (const [name, entry] of Object.entries(imported.processes)) {
    const node = doc.createNode(entry);
    visit(node, {
      Seq(_, seq) {
        seq.flow = true;
      },
    });
    const key = doc.createNode(name);
    const display = imported.displayNames[name];
    if (display !== undefined) key.commentBefore = ` ${display}`;
    processes.items.push(doc.createPair(key, node));
  }
}

/**
 * Adds the processes to the YAML file at `target` (created when missing). Refuses names it already
 * has, and puts the old text back when the result would not load: nothing half-written.
 */
function writeInto(
  io: CliIo,
  target: string,
  imported: ImportedProcesses,
  globals: GlobalOptions,
): void {
  if (target.endsWith('.json')) {
    throw new BadInputError([
      `--write: expected a YAML configuration file, got ${target} (print the translation and paste it instead)`,
    ]);
  }
  const before = existsSync(target) ? readFileSync(target, 'utf8') : null;
  const doc: Document = parseDocument(before ?? '');
  if (doc.errors.length > 0) {
    throw new BadInputError([
      `--write: ${target} is not valid YAML: ${doc.errors[0]?.message ?? 'unparsable'}`,
    ]);
  }
  if (doc.contents === null) doc.contents = doc.createNode({});
  const existing = doc.get('processes');
  if (existing !== undefined && existing !== null && !isMap(existing)) {
    throw new BadInputError([
      `--write: processes in ${target}: expected a map, got ${JSON.stringify((doc.toJS() as Record<string, unknown>).processes)}`,
    ]);
  }
  const taken = Object.keys(imported.processes).filter((name) => doc.hasIn(['processes', name]));
  if (taken.length > 0) {
    throw new BadInputError([
      `--write: ${target} already has processes named ${taken.join(', ')}: expected new names (nothing was written)`,
    ]);
  }
  addProcesses(doc, imported);
  writeFileSync(target, doc.toString({ lineWidth: 0 }));
  try {
    loadConfig({ path: target, cwd: io.cwd, env: io.env, databaseUrl: globals.db });
  } catch (error) {
    if (before === null) unlinkSync(target);
    else writeFileSync(target, before);
    throw error instanceof VigilError
      ? error
      : new BadInputError([`--write: the result does not load: ${(error as Error).message}`]);
  }
}
