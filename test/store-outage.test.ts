import { writeFileSync } from 'node:fs';
import type { AddressInfo, Server, Socket } from 'node:net';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  POSTGRES_URL,
  dropSchemas,
  postgresAvailable,
  postgresQuery,
  schemaName,
  tempDir,
} from './helpers.js';
import type { VigilProcess } from './process-helpers.js';
import { startVigil, until } from './process-helpers.js';

const available = await postgresAvailable();

/**
 * A real TCP proxy between Vigil and PostgreSQL: closing it is a real lost connection (the
 * database itself stays up for the other suites).
 */
class Cable {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async plug(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server?.close(() => resolve()) ?? resolve());
  }
}

describe.runIf(available)('a replica losing its database', () => {
  const schema = schemaName();
  const { dir, cleanup } = tempDir();
  const target = new URL(POSTGRES_URL);
  const cable = new Cable({ host: target.hostname, port: Number(target.port || 5432) });
  let vigil: VigilProcess | undefined;

  afterAll(async () => {
    await vigil?.stop('SIGKILL');
    await cable.cut();
    await dropSchemas(schema);
    cleanup();
  });

  it('answers /healthz 503 while the database is gone and recovers by itself when it returns', async () => {
    await postgresQuery(`CREATE SCHEMA ${schema}`);
    await cable.plug();
    writeFileSync(join(dir, 'vigil.yaml'), 'sweep:\n  interval: 200ms\n');
    const url = new URL(POSTGRES_URL);
    url.port = String(cable.port);
    vigil = await startVigil(dir, {
      VIGIL_DATABASE_URL: `${url.toString()}?options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    });
    const health = async () => {
      const response = await fetch(`${vigil!.url}/healthz`);
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    await until(async () => (await health()).status === 200, { what: 'a first healthy answer' });

    await cable.cut();
    const down = await until(
      async () => {
        const answer = await health();
        return answer.status === 503 && answer.body.storeReachable === false ? answer : null;
      },
      { what: '/healthz to answer 503, store unreachable' },
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\nvigil output:\n${vigil!.output()}`);
    });
    expect(down.body).toMatchObject({ status: 'unhealthy', storeReachable: false });
    // Still answering, and an API call says why instead of failing with a 500.
    const list = await fetch(`${vigil.url}/v1/executions`);
    expect(list.status).toBe(503);
    expect(((await list.json()) as { error: { code: string } }).error.code).toBe(
      'store_unavailable',
    );

    await cable.plug();
    const up = await until(
      async () => {
        const answer = await health();
        return answer.status === 200 ? answer : null;
      },
      { what: '/healthz to recover' },
    );
    expect(up.body).toMatchObject({ status: 'ok', storeReachable: true });
    expect((await fetch(`${vigil.url}/v1/executions`)).status).toBe(200);
    expect(vigil.child.exitCode).toBeNull();
  });
});
