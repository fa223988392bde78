import { afterEach, describe, expect, it } from 'vitest';
import { VigilClient } from '../src/sdk/index.js';
import { loopbackServer } from './loopback-server.js';

let close = () => Promise.resolve();
afterEach(() => close());

describe('a final report survives Vigil being unavailable for a while', () => {
  it('complete keeps retrying 503s past the heartbeat retry budget until it lands', async () => {
    let refusals = 5;
    const server = await loopbackServer(() =>
      refusals-- > 0
        ? { status: 503, body: { error: { code: 'store_unavailable', message: 'restarting' } } }
        : { status: 200, body: { id: 'job', status: 'succeeded', attempt: 1 } },
    );
    close = () => server.close();
    const { url } = server;
    const client = new VigilClient({ url, token: null, retries: 3 });

    const answer = await client.complete('job', { attempt: 1, result: 42 });

    expect(answer).toMatchObject({ status: 'succeeded' });
    const seen = server.requests.map((r) => `${r.method} ${r.path}`);
    expect(seen).toHaveLength(6);
    expect(new Set(seen)).toEqual(new Set(['POST /v1/executions/job/complete']));
  });
});
