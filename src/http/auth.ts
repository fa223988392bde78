import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { VigilError } from '../errors.js';
import { isDashboardPath } from './dashboard.js';

/** Who is calling, and what they may do. */
export interface Caller {
  /** The owner a runner token is bound to; null for the admin. */
  readonly owner: string | null;
  readonly isAdmin: boolean;
  mustBeAdmin(): void;
  /** Throws 403 unless the caller may act for this owner (an owner the request names itself). */
  mustOwn(owner: string | null, what: string): void;
  /**
   * Whether an execution of this owner is within the caller's scope. One outside it is answered
   * as missing (404), never 403, so a runner learns neither which ids exist nor who owns them.
   */
  canSee(owner: string | null): boolean;
}

const admin: Caller = {
  owner: null,
  isAdmin: true,
  mustBeAdmin: () => undefined,
  mustOwn: () => undefined,
  canSee: () => true,
};

function runner(owner: string): Caller {
  return {
    owner,
    isAdmin: false,
    mustBeAdmin: () => {
      throw new VigilError(
        'forbidden',
        `a runner token (owner ${owner}) may not do this; use the admin token`,
      );
    },
    mustOwn: (executionOwner, what) => {
      if (executionOwner !== owner) {
        throw new VigilError(
          'forbidden',
          `${what} belongs to owner ${executionOwner ?? '(none)'}; this runner token is bound to ${owner}`,
        );
      }
    },
    canSee: (executionOwner) => executionOwner === owner,
  };
}

/** Routes anyone may call, even when tokens are configured. */
const OPEN_PATHS = new Set(['/healthz']);

/**
 * Resolves the caller from `Authorization: Bearer <token>`. Without any token configured Vigil
 * binds to 127.0.0.1 and every local caller is the admin.
 */
export function authenticate(request: FastifyRequest, config: Config): Caller {
  if (config.token === null && config.runnerTokens.length === 0) return admin;
  const path = request.url.split('?')[0] ?? '';
  const header = request.headers.authorization;
  const token = header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : null;
  if (token) {
    if (config.token !== null && same(token, config.token)) return admin;
    const bound = config.runnerTokens.find((r) => same(token, r.token));
    if (bound) return runner(bound.owner);
  }
  if (OPEN_PATHS.has(path) || isDashboardPath(path)) return admin;
  throw new VigilError(
    'unauthorized',
    token ? 'the bearer token is not valid' : 'missing Authorization: Bearer <token>',
  );
}

function same(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
