import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { LoopbackServer, Reply, Request } from './loopback-server.js';
import { loopbackServer } from './loopback-server.js';

export type ReceivedRequest = Request;

/** A webhook, Slack or Discord endpoint stand-in: `respond` sets the status (and body) it answers. */
export interface Receiver extends Omit<LoopbackServer, 'respond'> {
  /** The status the next requests are answered with (default 200), and an optional body. */
  respond: (status: number, body?: string) => void;
}

/** A real HTTP receiver on loopback, answering 200 "ok" until told otherwise. */
export async function startReceiver(): Promise<Receiver> {
  const answer = (status: number, raw: string): Reply => ({
    status,
    raw,
    contentType: 'text/plain',
  });
  const server = await loopbackServer(() => answer(200, 'ok'));
  return {
    ...server,
    respond: (status, body = status < 300 ? 'ok' : 'unavailable') =>
      server.respond(() => answer(status, body)),
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
