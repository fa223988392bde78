import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { VigilError } from '../errors.js';
import { isDashboardPath } from './dashboard.js';

/**
 * Who is calling: the admin (may do anything), a viewer (may read everything, write nothing) or a
 * runner (may act on its owner's executions only).
 */
export type Role = 'admin' | 'viewer' | 'runner';

/** Who is calling, and what they may do. */
export interface Caller {
  readonly role: Role;
  /** The owner a runner token is bound to; null for the admin and viewers. */
  readonly owner: string | null;
  readonly isAdmin: boolean;
  mustBeAdmin(): void;
  /** Throws 403 unless the caller may read everything (the admin or a viewer). */
  mustReadAll(): void;
  /** Throws 403 unless the caller may act for this owner (an owner the request names itself). */
  mustOwn(owner: string | null, what: string): void;
  /**
   * Whether an execution of this owner is within the caller's scope. One outside it is answered
   * as missing (404), never 403, so a runner learns neither which ids exist nor who owns them.
   */
  canSee(owner: string | null): boolean;
}

const admin: Caller = {
  role: 'admin',
  owner: null,
  isAdmin: true,
  mustBeAdmin: () => undefined,
  mustReadAll: () => undefined,
  mustOwn: () => undefined,
  canSee: () => true,
};

function viewer(name: string): Caller {
  const readOnly = () => {
    throw new VigilError(
      'forbidden',
      `a viewer token (${name}) may only read; this needs the admin token`,
    );
  };
  return {
    role: 'viewer',
    owner: null,
    isAdmin: false,
    mustBeAdmin: readOnly,
    mustReadAll: () => undefined,
    mustOwn: readOnly,
    canSee: () => true,
  };
}

function runner(owner: string): Caller {
  const forbidden = () => {
    throw new VigilError(
      'forbidden',
      `a runner token (owner ${owner}) may not do this; use the admin token`,
    );
  };
  return {
    role: 'runner',
    owner,
    isAdmin: false,
    mustBeAdmin: forbidden,
    mustReadAll: forbidden,
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
  if (config.token === null && config.runnerTokens.length === 0 && config.viewerTokens.length === 0)
    return admin;
  const path = request.url.split('?')[0] ?? '';
  const header = request.headers.authorization;
  const token = header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : null;
  if (token) {
    if (config.token !== null && same(token, config.token)) return admin;
    const bound = config.runnerTokens.find((r) => same(token, r.token));
    if (bound) return runner(bound.owner);
    const reader = config.viewerTokens.find((v) => same(token, v.token));
    if (reader) return viewer(reader.name);
  }
  if (OPEN_PATHS.has(path) || isDashboardPath(path)) return admin;
  throw new VigilError(
    'unauthorized',
    token ? 'the bearer token is not valid' : 'missing Authorization: Bearer <token>',
  );
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A viewer never writes: every request but a read is refused here, in one place, before any route
 * runs — a dry-run sweep included, since it takes the sweep's lease and records a report.
 */
export function refuseViewerWrites(request: FastifyRequest, caller: Caller): void {
  if (caller.role !== 'viewer' || READ_METHODS.has(request.method)) return;
  throw new VigilError(
    'forbidden',
    `a viewer token may only read: expected GET, got ${request.method} ${request.url.split('?')[0] ?? ''}`,
  );
}

function same(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
