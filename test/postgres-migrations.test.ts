import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openPostgresStore } from '../src/stores/postgres.js';
import { POSTGRES_URL, dropSchemas, postgresAvailable, schemaName } from './helpers.js';
import { migrationProvider } from '../src/stores/migrations.js';

const available = await postgresAvailable();
const schemas: string[] = [];
const fresh = () => {
  const schema = schemaName();
  schemas.push(schema);
  return schema;
};

afterAll(async () => {
  if (available) await dropSchemas(...schemas);
});

describe.runIf(available)('PostgreSQL migrations beside other schemas', () => {
  it("migrates its own schema although another schema of the database has kysely's tables", async () => {
    // Another app (or another Vigil) on the same database, its migration tables in its schema.
    const other = fresh();
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      await client.query(`CREATE SCHEMA ${other};
        CREATE TABLE ${other}.kysely_migration_lock (id text PRIMARY KEY, is_locked integer);
        CREATE TABLE ${other}.kysely_migration (name text PRIMARY KEY, timestamp text)`);
    } finally {
      await client.end();
    }
    const store = openPostgresStore(POSTGRES_URL, { schema: fresh(), poolSize: 2 });
    try {
      expect(await store.migrate()).toEqual(
        Object.keys(await migrationProvider.getMigrations()).sort(),
      );
      expect(await store.migrate()).toEqual([]);
      expect(await store.nextDeadline()).toBeNull();
    } finally {
      await store.close();
    }
  });

  it('migrates while other schemas of the database are being dropped', async () => {
    // Kysely lists every schema to find its migration table; one dropped meanwhile (another
    // test, another app) must not fail Vigil's start.
    const churn = new pg.Client({ connectionString: POSTGRES_URL });
    await churn.connect();
    let stop = false;
    const churning = (async () => {
      while (!stop) {
        const name = schemaName('vigil_churn');
        await churn.query(`CREATE SCHEMA ${name}; CREATE TABLE ${name}.t (id int)`);
        await churn.query(`DROP SCHEMA ${name} CASCADE`);
      }
    })();
    try {
      for (let i = 0; i < 20; i++) {
        const store = openPostgresStore(POSTGRES_URL, { schema: fresh(), poolSize: 2 });
        try {
          expect((await store.migrate()).length).toBeGreaterThan(0);
        } finally {
          await store.close();
        }
      }
    } finally {
      stop = true;
      await churning;
      await churn.end();
    }
  });
});
