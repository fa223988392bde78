import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';

/**
 * Opens an existing SQLite file for reading only, for the commands that never write (`ls`, `show`,
 * `history`). Vigil's files are in WAL mode, and SQLite reads a WAL database through a `-shm` file
 * beside it, which it must create when it is missing: in a directory this user may not write, even
 * a read fails (SQLITE_READONLY_DIRECTORY). Then the file (and its `-wal`, so nothing committed is
 * missed) is copied to a private temporary directory and the copy is read; it is removed at exit.
 */
export function openReadonlyDatabase(file: string, timeoutMs: number): BetterSqlite3.Database {
  const options = { readonly: true, fileMustExist: true, timeout: timeoutMs };
  let database: BetterSqlite3.Database | undefined;
  try {
    database = new BetterSqlite3(file, options);
    database.prepare('select count(*) from sqlite_master').get();
    return database;
  } catch (error) {
    database?.close();
    // The file is there (fileMustExist): what cannot be opened or made is the `-shm` beside it.
    const code = (error as { code?: unknown }).code;
    if (code !== 'SQLITE_READONLY_DIRECTORY' && !(code === 'SQLITE_CANTOPEN' && existsSync(file)))
      throw error;
  }
  const dir = mkdtempSync(join(tmpdir(), 'vigil-read-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const copy = join(dir, basename(file));
  copyFileSync(file, copy);
  if (existsSync(`${file}-wal`)) copyFileSync(`${file}-wal`, `${copy}-wal`);
  return new BetterSqlite3(copy, options);
}
