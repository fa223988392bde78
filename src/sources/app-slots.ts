/**
 * The app's own capacity slots and queue entries, in the app's own Redis under its own key names
 * (`appSlots` of a mapped table), released when Vigil ends one of its rows. Each release is one
 * Lua script, so it is a compare-and-release: it removes only what this row still holds, and
 * decrements a counter only when it removed something. A Redis that is down never holds up the
 * sweep: every command has a 1 s timeout, and after a failure commands fail at once while one
 * PING at a time probes for its return (the same rules as Vigil's own slot store).
 */
import { ErrorReply, createClient } from 'redis';
import type { StepRecord } from '../ports/audit-store.js';
import { redact } from '../shared/redact.js';
import { REDIS_COMMAND_TIMEOUT_MS, RedisHealth, withTimeout } from '../shared/redis-health.js';
import type { AppSlotRelease, AppSlots, TemplateValues } from './table-owner-config.js';
import { fill } from './table-owner-config.js';

/** What one release found: removed, held by another, already gone, or Redis could not say. */
export type ReleaseOutcome = 'released' | 'not_held' | 'already_free' | 'redis_down' | 'failed';

/** Decrements KEYS[2] (never below 0) when there is one; appended to each script. */
const DECREMENT = `
if KEYS[2] then
  local count = tonumber(redis.call('GET', KEYS[2]) or '0')
  if count and count > 0 then redis.call('DECR', KEYS[2]) end
end`;

/** Answers 1 when released, 0 when another value holds the key (with it), -1 when it is gone. */
const SCRIPTS: Record<AppSlotRelease['kind'], string> = {
  key: `
local current = redis.call('GET', KEYS[1])
if current == false then return {-1, ''} end
if current ~= ARGV[1] then return {0, current} end
redis.call('DEL', KEYS[1])${DECREMENT}
return {1, ''}`,
  set: removal(`redis.call('SREM', KEYS[1], ARGV[1])`),
  zset: removal(`redis.call('ZREM', KEYS[1], ARGV[1])`),
  hash: removal(`redis.call('HDEL', KEYS[1], ARGV[1])`),
  list: removal(`redis.call('LREM', KEYS[1], 0, ARGV[1])`),
};

function removal(command: string): string {
  return `
local removed = ${command}
if removed == 0 then return {-1, ''} end${DECREMENT}
return {1, ''}`;
}

/** How a release reads in the audit: `ZREM agent:a:slots "42"`. */
function describeRelease(entry: AppSlotRelease, key: string, value: string): string {
  const verb = {
    key: `DEL ${key} if it holds`,
    set: `SREM ${key}`,
    zset: `ZREM ${key}`,
    hash: `HDEL ${key}`,
    list: `LREM ${key} 0`,
  }[entry.kind];
  return `${verb} ${JSON.stringify(value)}`;
}

/** A client of the app's Redis. */
type Client = ReturnType<typeof newClient>;

function newClient(url: string, timeoutMs: number, isConnected: () => boolean) {
  return createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: timeoutMs,
      // Lost after connecting: reconnect in the background. Never reached: fail now, and let the
      // next release (or the probe) try a fresh connection.
      reconnectStrategy: (retries, cause) =>
        isConnected() ? Math.min(100 * 2 ** retries, 5_000) : cause,
    },
  });
}

/** The app's Redis: connected on first use, and again after a failure, never blocking a sweep. */
export class AppRedis {
  private client: Client | null = null;
  private connecting: Promise<Client> | null = null;
  private readonly health = new RedisHealth(async () => (await this.connected()).ping());
  readonly description: string;

  constructor(
    private readonly url: string,
    private readonly timeoutMs = REDIS_COMMAND_TIMEOUT_MS,
  ) {
    this.description = `redis ${redact(url)}`;
  }

  /** Releases what a row holds, entry by entry; one audit step each. */
  async release(slots: AppSlots, values: TemplateValues, dryRun: boolean): Promise<StepRecord[]> {
    const steps: StepRecord[] = [];
    for (const entry of slots.release) {
      const key = fill(entry.key, values);
      const value = fill(entry.value, values);
      const what = describeRelease(entry, key, value);
      const decrement = entry.decrement && fill(entry.decrement, values);
      const also = decrement ? ` (and DECR ${decrement})` : '';
      if (dryRun) {
        steps.push({
          step: 'release',
          outcome: 'skipped',
          ms: 0,
          detail: `dry run: would ${what}${also}`,
        });
        continue;
      }
      const started = performance.now();
      const { outcome, detail } = await this.releaseOne(entry, key, value, decrement);
      steps.push({
        step: 'release',
        outcome:
          outcome === 'released'
            ? 'ok'
            : outcome === 'not_held' || outcome === 'already_free'
              ? 'skipped'
              : 'failed',
        ms: Math.round((performance.now() - started) * 1000) / 1000,
        detail: `${what}${outcome === 'released' ? also : ''}: ${detail}`,
      });
    }
    return steps;
  }

  private async releaseOne(
    entry: AppSlotRelease,
    key: string,
    value: string,
    decrement: string | null,
  ): Promise<{ outcome: ReleaseOutcome; detail: string }> {
    const down = this.health.status();
    if (!down.up) {
      this.health.probe();
      return { outcome: 'redis_down', detail: `${this.description} is down: ${down.error ?? ''}` };
    }
    try {
      const client = await this.connected();
      const [answer, holder] = (await withTimeout(
        client.eval(SCRIPTS[entry.kind], {
          keys: decrement ? [key, decrement] : [key],
          arguments: [value],
        }),
        this.timeoutMs,
      )) as [number, string];
      this.health.answered();
      if (answer === 1) return { outcome: 'released', detail: 'released' };
      if (answer === 0) {
        return { outcome: 'not_held', detail: `not held: it holds ${JSON.stringify(holder)}` };
      }
      return { outcome: 'already_free', detail: 'already free' };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // Redis answered with an error (a key of another type): it is up, the entry is wrong.
      if (error instanceof ErrorReply) {
        this.health.answered();
        return { outcome: 'failed', detail: `failed: ${message}` };
      }
      this.health.failed(error);
      return { outcome: 'redis_down', detail: `${this.description} is down: ${message}` };
    }
  }

  /** The client, connecting it first when needed (a failed first connection is tried again). */
  private async connected(): Promise<Client> {
    if (this.client?.isReady) return this.client;
    if (this.client?.isOpen) throw new Error('reconnecting');
    this.connecting ??= this.connect().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async connect(): Promise<Client> {
    let connected = false;
    const client = newClient(this.url, this.timeoutMs, () => connected);
    // Without a listener an unreachable Redis would crash the process.
    client.on('error', () => undefined);
    try {
      await withTimeout(client.connect(), this.timeoutMs * 2);
    } catch (error) {
      client.destroy();
      throw error;
    }
    connected = true;
    this.client = client;
    return client;
  }

  close(): void {
    this.health.stop();
    const { client } = this;
    this.client = null;
    if (client?.isOpen) client.destroy();
  }
}

/** The apps' Redis servers, one client each, by URL. */
export class AppRedisPool {
  private readonly servers = new Map<string, AppRedis>();

  get(url: string): AppRedis {
    let redis = this.servers.get(url);
    if (!redis) {
      redis = new AppRedis(url);
      this.servers.set(url, redis);
    }
    return redis;
  }

  close(): void {
    for (const redis of this.servers.values()) redis.close();
    this.servers.clear();
  }
}
