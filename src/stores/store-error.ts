import { VigilError } from '../errors.js';
import { redact } from '../shared/redact.js';

const UNAVAILABLE_SQLITE = [
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_NOTADB',
  'SQLITE_CORRUPT',
  'SQLITE_CANTOPEN',
  'SQLITE_IOERR',
  'SQLITE_READONLY',
  'SQLITE_FULL',
  'SQLITE_PERM',
];
const UNAVAILABLE_NET = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH'];

/**
 * Recognises a driver error that means "the store cannot be used right now" (locked, corrupt,
 * unreachable) and turns it into a `store_unavailable` error with a message a person can act on.
 */
export function storeError(error: unknown, where = 'the database'): VigilError | undefined {
  if (error instanceof VigilError) return error.code === 'store_unavailable' ? error : undefined;
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return undefined;
  if (code === '3F000') {
    return new VigilError(
      'bad_config',
      `${redact(where)}: the schema in the search_path does not exist (create it first): ${error.message}`,
    );
  }
  const hint: Record<string, string> = {
    SQLITE_BUSY: 'it is locked by another process',
    SQLITE_LOCKED: 'it is locked by another process',
    SQLITE_NOTADB: 'the file is not a SQLite database (corrupt or another kind of file)',
    SQLITE_CORRUPT: 'the database file is corrupt',
    SQLITE_CANTOPEN: 'the file cannot be opened',
    SQLITE_READONLY: 'the file is read-only',
    SQLITE_FULL: 'the disk is full',
  };
  // PostgreSQL: connection exceptions (08xxx), the server shutting down (57P01-57P03), and a
  // database or role that does not exist or may not log in (3D000, 28000, 28P01).
  const postgres = /^08\d{3}$|^57P0[123]$|^3D000$|^28(000|P01)$/.test(code);
  const known =
    UNAVAILABLE_SQLITE.some((prefix) => code.startsWith(prefix)) ||
    UNAVAILABLE_NET.includes(code) ||
    postgres;
  if (!known) return undefined;
  const because = hint[code] ?? error.message;
  return new VigilError(
    'store_unavailable',
    `store unavailable: ${redact(where)}: ${because} (${code})`,
  );
}
