import { afterAll, describe, expect, it } from 'vitest';
import { migrationProvider } from '../src/stores/migrations.js';
import { openPostgresStore } from '../src/stores/postgres.js';
import { POSTGRES_URL, dropSchemas, postgresAvailable, schemaName } from './helpers.js';

const available = await postgresAvailable();
const schemas: string[] = [];

afterAll(async () => {
  if (available) await dropSchemas(...schemas);
});

describe.runIf(available)('PostgreSQL replicas', () => {
  it('three replicas migrating one fresh database at once: the schema is applied exactly once', async () => {
    const schema = schemaName();
    schemas.push(schema);
    const replicas = [1, 2, 3].map(() => openPostgresStore(POSTGRES_URL, { schema, poolSize: 2 }));
    try {
      const applied = await Promise.all(replicas.map((store) => store.migrate()));
      expect(applied.flat()).toEqual(Object.keys(await migrationProvider.getMigrations()).sort());
      expect(await replicas[0]!.nextDeadline()).toBeNull();
    } finally {
      await Promise.all(replicas.map((store) => store.close()));
    }
  });
});
