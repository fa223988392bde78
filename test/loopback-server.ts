/**
 * The one HTTP server the tests stand up in place of the outside world: a health endpoint, an
 * owner's registry, an operations API, a webhook receiver. Real sockets on 127.0.0.1.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the server answers one request: an answer, or never (to test timeouts). */
export type Reply = { status: number; body?: unknown; raw?: string; contentType?: string } | 'hang';

export interface Request {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The body exactly as it arrived (what a signature is computed over). */
  raw: string;
  /** The body parsed as JSON; null when it is not JSON. */
  json: any;
  /** The status it was answered with; null while it hangs. */
  answered: number | null;
}

export interface LoopbackServer {
  url: string;
  /** Every request received, in order. */
  requests: Request[];
  /** Requests answered 2xx: what the server actually took. */
  accepted: () => Request[];
  /** Replaces how the server answers from now on. */
  respond: (handler: (request: Request) => Reply) => void;
  /** Closes the listening socket: connections are refused until `reopen`. */
  down: () => Promise<void>;
  /** Listens again on the same port. */
  reopen: () => Promise<void>;
  close: () => Promise<void>;
}

/** What was called, without the bodies: `{method, path}` of each request. */
export const calls = (requests: readonly Request[]): { method: string; path: string }[] =>
  requests.map(({ method, path }) => ({ method, path }));

/** A real HTTP server on 127.0.0.1 with a port the system picks, answering as the test says. */
export async function loopbackServer(
  handler: (request: Request) => Reply = () => ({ status: 200, body: { status: 'ok' } }),
): Promise<LoopbackServer> {
  let current = handler;
  const requests: Request[] = [];
  const hanging = new Set<ServerResponse>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const request: Request = {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        headers: req.headers,
        raw,
        json: parseJson(raw),
        answered: null,
      };
      requests.push(request);
      const reply = current(request);
      if (reply === 'hang') {
        hanging.add(res);
        return;
      }
      request.answered = reply.status;
      const text = reply.raw ?? (reply.body === undefined ? '' : JSON.stringify(reply.body));
      res.writeHead(reply.status, { 'content-type': reply.contentType ?? 'application/json' });
      res.end(text);
    });
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const stop = async () => {
    for (const res of hanging) res.destroy();
    hanging.clear();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  await listen(0);
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    accepted: () =>
      requests.filter((r) => r.answered !== null && r.answered >= 200 && r.answered < 300),
    respond: (next) => {
      current = next;
    },
    down: stop,
    reopen: () => listen(port),
    close: async () => {
      if (server.listening) await stop();
    },
  };
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return null;
  }
}
