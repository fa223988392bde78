import * as z from 'zod';
import { durationSchema as duration } from '../schemas.js';
import { NOTIFY_DEFAULTS } from './config.js';
import { Secret } from './secret.js';

const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name');

/** `kinds.<kind>.dispatch` as written: where a queued attempt of the kind is sent. */
export const dispatchSchema = z
  .strictObject({
    webhook: z.string().refine((text) => /^https?:\/\/[^\s]+$/.test(text) && URL.canParse(text), {
      error: (issue) => `expected an http(s) URL, got ${JSON.stringify(issue.input)}`,
    }),
    secret: z.string().min(1).optional(),
    secretEnv: envName.optional(),
    timeout: duration.refine((ms) => ms >= 100 && ms <= 5 * 60_000, 'expected 100ms-5m').optional(),
  })
  .refine((d) => (d.secret === undefined) !== (d.secretEnv === undefined), {
    path: ['secret'],
    message: 'expected exactly one of "secret" or "secretEnv" (dispatches are signed with it)',
  });

/** One kind's dispatch webhook, resolved. */
export interface DispatchTarget {
  kind: string;
  url: Secret;
  secret: Secret;
  timeoutMs: number;
}

/**
 * How dispatches are delivered: the notification outbox's backoff (1 s doubling to 5 min, with
 * jitter) and lease, so a receiver that is down gets the attempt when it is back, for a day.
 */
export const DISPATCH_DELIVERY = Object.freeze({
  timeoutMs: NOTIFY_DEFAULTS.timeoutMs,
  backoffMs: NOTIFY_DEFAULTS.backoffMs,
  maxBackoffMs: NOTIFY_DEFAULTS.maxBackoffMs,
  giveUpAfterMs: NOTIFY_DEFAULTS.giveUpAfterMs,
  leaseMs: NOTIFY_DEFAULTS.leaseMs,
});

/** Resolves each kind's `dispatch`, reading `secretEnv`; an unset variable is a problem. */
export function resolveDispatch(
  kinds: Record<string, { dispatch?: z.infer<typeof dispatchSchema> | undefined }>,
  env: Record<string, string | undefined>,
  problems: string[],
): Record<string, DispatchTarget> {
  const targets: Record<string, DispatchTarget> = {};
  for (const [kind, { dispatch }] of Object.entries(kinds)) {
    if (!dispatch) continue;
    let secret = dispatch.secret;
    if (dispatch.secretEnv !== undefined) {
      secret = env[dispatch.secretEnv];
      if (secret === undefined || secret === '') {
        problems.push(
          `kinds.${kind}.dispatch.secretEnv: environment variable ${dispatch.secretEnv} is not set`,
        );
        continue;
      }
    }
    if (secret === undefined) continue;
    targets[kind] = {
      kind,
      url: new Secret(dispatch.webhook),
      secret: new Secret(secret),
      timeoutMs: dispatch.timeout ?? DISPATCH_DELIVERY.timeoutMs,
    };
  }
  return targets;
}
