import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/**
 * The page talks only to this origin's API; no inline script, no third party. Styles are set from
 * script through the CSSOM, which `style-src 'self'` allows.
 */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** Vite names built assets by their content hash, so they can be cached for good. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** The page itself names the current assets: always revalidated. */
const REVALIDATE = 'no-cache';

interface StaticFile {
  body: Buffer;
  type: string;
  cacheControl: string;
}

/** Where `npm run build` puts the dashboard: dist/web, beside dist/http. */
export function defaultWebRoot(): string {
  const beside = fileURLToPath(new URL('../web/', import.meta.url)); // dist/http → dist/web
  const built = fileURLToPath(new URL('../../dist/web/', import.meta.url)); // src/http (tsx, tests)
  return [beside, built].find((dir) => existsSync(join(dir, 'index.html'))) ?? beside;
}

/** Paths the dashboard serves without a token: the page holds no data, it asks for the token. */
export function isDashboardPath(path: string): boolean {
  return path === '/' || path === '/index.html' || path.startsWith('/assets/');
}

/**
 * Serves the built dashboard from `root`. The files are read once, at start, into a map from URL
 * path to content: a request can only ever name one of them, so no path (`..`, encoded slashes,
 * symlinks) can reach anything else on disk.
 */
export function registerDashboard(app: FastifyInstance, root: string = defaultWebRoot()): void {
  const files = loadFiles(root);
  const send = (reply: FastifyReply, file: StaticFile | undefined) => {
    if (!file) {
      return reply
        .status(404)
        .send({ error: { code: 'not_found', message: 'no such dashboard file' } });
    }
    return reply
      .headers({ ...SECURITY_HEADERS, 'cache-control': file.cacheControl })
      .type(file.type)
      .send(file.body);
  };
  const page = (reply: FastifyReply) => {
    const index = files.get('/index.html');
    if (index) return send(reply, index);
    return reply
      .status(503)
      .type('text/plain; charset=utf-8')
      .send(`The dashboard is not built (no ${join(root, 'index.html')}): run npm run build.\n`);
  };
  app.get('/', async (_request, reply) => page(reply));
  app.get('/index.html', async (_request, reply) => page(reply));
  app.get('/assets/*', async (request, reply) =>
    send(reply, files.get(request.url.split('?')[0] ?? '')),
  );
}

function loadFiles(root: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  if (!existsSync(root)) return files;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const stat = statSync(path);
      if (stat.isDirectory()) {
        walk(path);
        continue;
      }
      const type = CONTENT_TYPES[extname(name)];
      if (!type || !stat.isFile()) continue;
      const url = `/${relative(root, path).split(sep).join('/')}`;
      files.set(url, {
        body: readFileSync(path),
        type,
        cacheControl: url.startsWith('/assets/') ? IMMUTABLE : REVALIDATE,
      });
    }
  };
  walk(root);
  return files;
}
