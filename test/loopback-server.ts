import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the server answers one request: an answer, or never (to test timeouts). */
export type Reply = { status: number; body?: unknown; raw?: string } | 'hang';

export interface Request {
  method: string;
  path: string;
}

export interface LoopbackServer {
  url: string;
  /** Every request received, in order. */
  requests: Request[];
  /** Replaces how the server answers from now on. */
  respond: (handler: (request: Request) => Reply) => void;
  close: () => Promise<void>;
}

/** A real HTTP server on 127.0.0.1 with a port the system picks, answering as the test says. */
export async function loopbackServer(
  handler: (request: Request) => Reply = () => ({ status: 200, body: { status: 'ok' } }),
): Promise<LoopbackServer> {
  let current = handler;
  const requests: Request[] = [];
  const hanging = new Set<ServerResponse>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const request = { method: req.method ?? 'GET', path: req.url ?? '/' };
    requests.push(request);
    req.resume();
    const reply = current(request);
    if (reply === 'hang') {
      hanging.add(res);
      return;
    }
    const text = reply.raw ?? (reply.body === undefined ? '' : JSON.stringify(reply.body));
    res.writeHead(reply.status, { 'content-type': 'application/json' });
    res.end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    respond: (next) => {
      current = next;
    },
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
