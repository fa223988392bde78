import type { Config } from '../config.js';
import type { Source } from '../ports/source.js';
import { TableSources } from '../sources/table-source.js';

/**
 * The sources a configuration names besides the ledger: today the mapped tables (`tables:`).
 * Relative SQLite paths are taken from `cwd`.
 */
export function sourcesFor(config: Config, cwd: string = process.cwd()): Source[] {
  const tables = Object.values(config.tables);
  if (tables.length === 0) return [];
  return [new TableSources(tables, { cwd, sqliteBusyTimeoutMs: config.sqliteBusyTimeoutMs })];
}
