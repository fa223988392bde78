import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The body exactly as it arrived (what a signature is computed over). */
  raw: string;
  json: any;
  /** The status this request was answered with. */
  answered: number;
}

export interface Receiver {
  url: string;
  /** Every request, answered with any status. */
  requests: ReceivedRequest[];
  /** Requests answered 2xx: what the receiver actually took. */
  accepted: () => ReceivedRequest[];
  /** The status the next requests are answered with (default 200), and an optional body. */
  respond: (status: number, body?: string) => void;
  /** Closes the listening socket: connections are refused until `reopen`. */
  down: () => Promise<void>;
  /** Listens again on the same port. */
  reopen: () => Promise<void>;
  close: () => Promise<void>;
}

/** A real HTTP receiver on loopback (a webhook, Slack or Discord endpoint stand-in). */
export async function startReceiver(): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  let status = 200;
  let answer = 'ok';
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let json: unknown = null;
      try {
        json = JSON.parse(raw);
      } catch {
        // recorded as raw only
      }
      requests.push({
        path: request.url ?? '',
        headers: request.headers,
        raw,
        json,
        answered: status,
      });
      response.writeHead(status, { 'content-type': 'text/plain' }).end(answer);
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
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  const closeServer = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    accepted: () => requests.filter((r) => r.answered >= 200 && r.answered < 300),
    respond: (next, body = next < 300 ? 'ok' : 'unavailable') => {
      status = next;
      answer = body;
    },
    down: closeServer,
    reopen: () => listen(port),
    close: async () => {
      if (server.listening) await closeServer();
    },
  };
}

export interface ReceivedMail {
  from: string;
  to: string[];
  subject: string;
  raw: string;
  user: string | null;
}

export interface MailServer {
  port: number;
  mails: ReceivedMail[];
  close: () => Promise<void>;
}

/** A real SMTP server on loopback (smtp-server), plain text, accepting one user and password. */
export async function startSmtp(credentials?: {
  user: string;
  password: string;
}): Promise<MailServer> {
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    disabledCommands: credentials ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    authOptional: !credentials,
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (
        credentials &&
        auth.username === credentials.user &&
        auth.password === credentials.password
      ) {
        callback(null, { user: auth.username });
      } else {
        callback(new Error('Invalid username or password'));
      }
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const headers = raw.split(/\r?\n\r?\n/)[0] ?? '';
        // Header folding: a long subject continues on lines starting with whitespace.
        const unfolded = headers.replace(/\r?\n[ \t]+/g, ' ');
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          subject: /^Subject: (.*)$/im.exec(unfolded)?.[1] ?? '',
          raw,
          user: typeof session.user === 'string' ? session.user : null,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    mails,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
