import { ErrorReply, createClient } from 'redis';
import { VigilError } from '../errors.js';
import type { SlotReleaseOutcome, SlotStore } from '../ports/slot-store.js';
import { redact } from '../shared/redact.js';
import { REDIS_COMMAND_TIMEOUT_MS, RedisHealth, withTimeout } from '../shared/redis-health.js';

/** Takes the slot when it is free or already ours; answers [1, ttl] or [0, current holder]. */
const ACQUIRE = `
local current = redis.call('GET', KEYS[1])
if current == false or current == ARGV[1] then
  if ARGV[2] == '' then
    redis.call('SET', KEYS[1], ARGV[1])
  else
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  end
  return {1, ''}
end
return {0, current}`;

/** Compare-and-release: deletes the slot only while `holder` holds it; -1 when nobody does. */
const RELEASE = `
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
if current == false then
  return -1
end
return 0`;

/** RELEASE over every key in turn (holder i in ARGV[i]): one answer per key, in order. */
const RELEASE_MANY = `
local answers = {}
for i, key in ipairs(KEYS) do
  local current = redis.call('GET', key)
  if current == ARGV[i] then
    answers[i] = redis.call('DEL', key)
  elseif current == false then
    answers[i] = -1
  else
    answers[i] = 0
  end
end
return answers`;

const releaseOutcome = (answer: number): SlotReleaseOutcome =>
  answer === 1 ? 'released' : answer === -1 ? 'already_free' : 'not_held';

export interface RedisSlotOptions {
  /** Prefix of every slot key (default `vigil:slot:`). */
  keyPrefix?: string | undefined;
  /** Default REDIS_COMMAND_TIMEOUT_MS. */
  commandTimeoutMs?: number | undefined;
}

/**
 * Slots in Redis: one key per slot holding its holder's token, with an optional TTL. Acquire and
 * release are Lua scripts, so each is one atomic step on the server.
 *
 * Every command has a timeout. Once one fails or times out, Redis is down: commands fail at once
 * with "store unavailable" (nothing more is queued on a connection that does not answer) while one
 * PING at a time probes it; the first answer brings it back. A release that fails stays due and is
 * retried by a later sweep; an acquisition fails with "store unavailable".
 */
export async function openRedisSlotStore(
  url: string,
  options: RedisSlotOptions = {},
): Promise<SlotStore> {
  const prefix = options.keyPrefix ?? 'vigil:slot:';
  const timeoutMs = options.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS;
  const where = redact(url);
  // Unreachable at start: fail at once (the caller exits "store unavailable"). Lost later: keep
  // reconnecting in the background, with backoff.
  let connected = false;
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 2_000,
      reconnectStrategy: (retries, cause) =>
        connected ? Math.min(100 * 2 ** retries, 5_000) : cause,
    },
  });
  // Without a listener an unreachable Redis would crash the process; the errors surface on the
  // commands instead.
  client.on('error', () => undefined);
  const unavailable = (error: unknown) =>
    new VigilError(
      'store_unavailable',
      `slot store unavailable: ${where}: ${error instanceof Error ? error.message : String(error)}`,
      { store: 'slots' },
    );
  try {
    await client.connect();
    connected = true;
  } catch (error) {
    throw unavailable(error);
  }

  const health = new RedisHealth(() => client.ping());
  const run = async <T>(fn: () => Promise<T>): Promise<T> => {
    const down = health.status();
    if (!down.up) {
      health.probe();
      throw unavailable(new Error(down.error ?? 'down'));
    }
    try {
      const value = await withTimeout(fn(), timeoutMs);
      health.answered();
      return value;
    } catch (error) {
      // Redis answered with an error: it is up, the command was wrong.
      if (error instanceof ErrorReply) health.answered();
      else health.failed(error);
      throw unavailable(error);
    }
  };

  return {
    description: `redis ${where} (keys ${prefix}*)`,
    acquire: (slot, holder, ttlMs, now) =>
      run(async () => {
        const [taken, current] = (await client.eval(ACQUIRE, {
          keys: [prefix + slot],
          arguments: [holder, ttlMs === null ? '' : String(Math.max(1, Math.round(ttlMs)))],
        })) as [number, string];
        return taken === 1
          ? { acquired: true, expiresAt: ttlMs === null ? null : now + ttlMs }
          : { acquired: false, holder: current };
      }),
    release: (slot, holder) =>
      run(async () => {
        const answer = (await client.eval(RELEASE, {
          keys: [prefix + slot],
          arguments: [holder],
        })) as number;
        return releaseOutcome(answer);
      }),
    releaseMany: (releases) =>
      run(async () => {
        const answers = (await client.eval(RELEASE_MANY, {
          keys: releases.map((r) => prefix + r.slot),
          arguments: releases.map((r) => r.holder),
        })) as number[];
        if (answers.length !== releases.length) throw new Error('release: answers missing');
        return answers.map(releaseOutcome);
      }),
    holderOf: (slot) => run(async () => (await client.get(prefix + slot)) ?? null),
    status: () => health.status(),
    close: async () => {
      health.stop();
      if (!client.isOpen) return;
      // A graceful close waits for every answer: on a Redis that does not answer, never.
      if (health.status().up) await client.close();
      else client.destroy();
    },
  };
}
