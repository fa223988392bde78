import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { VigilClient } from '../src/sdk/index.js';

let close = () => Promise.resolve();
afterEach(() => close());

describe('a final report survives Vigil being unavailable for a while', () => {
  it('complete keeps retrying 503s past the heartbeat retry budget until it lands', async () => {
    let refusals = 5;
    const seen: string[] = [];
    const server = createServer((request, response) => {
      seen.push(`${request.method} ${request.url}`);
      if (refusals-- > 0) {
        response.writeHead(503, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({ error: { code: 'store_unavailable', message: 'restarting' } }),
        );
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ id: 'job', status: 'succeeded', attempt: 1 }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    close = () => new Promise((resolve) => server.close(() => resolve()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = new VigilClient({ url, token: null, retries: 3 });

    const answer = await client.complete('job', { attempt: 1, result: 42 });

    expect(answer).toMatchObject({ status: 'succeeded' });
    expect(seen).toHaveLength(6);
    expect(new Set(seen)).toEqual(new Set(['POST /v1/executions/job/complete']));
  });
});
