/**
 * The runner fleet of bench/detection-overshoot.ts, in its own process: keeps executions alive
 * with batched heartbeats (POST /v1/heartbeats) every `intervalMs`, and stops beating the ids it
 * is told to drop. Controlled over IPC:
 *
 *   → {type: 'start', url, intervalMs, batchSize, concurrency, paced}
 *   → {type: 'add', ids}    beats them at once, then in every cycle;   ← {type: 'added', ok, lost}
 *   → {type: 'drop', ids}   never beats them again;                    ← {type: 'dropped', at}
 *   → {type: 'stop'}        finishes the cycle in flight, exits;       ← {type: 'stats', stats}
 *
 * Paced, a cycle spreads its batches evenly over 90 % of the interval (a large fleet whose runners
 * beat at their own moments); otherwise it sends them as fast as `concurrency` allows.
 *
 * Every loop is bounded: the process exits on its own after `maxRunMs`.
 */
import { Agent, request } from 'node:http';

export interface BeaterStats {
  cycles: number;
  /** Cycles that started later than their slot because the previous one overran. */
  lateCycles: number;
  cycleMs: number[];
  requests: number;
  non200: number;
  errors: number;
  okBeats: number;
  /** Ids answered as lost that the beater had not been told to drop. */
  unexpectedLost: {
    id: string;
    status: string | null;
    reason: string;
    /** When the request that came back `lost` was sent. */
    sentAt: number;
    /** When the beat before it was accepted (null: none was). */
    previousOkAt: number | null;
  }[];
  lostAfterDrop: number;
  /** Longest time between two accepted beats of the same id, over ids never dropped (ms). */
  maxGapMs: number;
  /** Client time of the last accepted beat of each dropped id. */
  lastOkOfDropped: Record<string, number>;
  firstError: string | null;
}

interface Start {
  type: 'start';
  url: string;
  intervalMs: number;
  batchSize: number;
  concurrency: number;
  maxRunMs: number;
  paced?: boolean;
}

type Control =
  Start | { type: 'add'; ids: string[] } | { type: 'drop'; ids: string[] } | { type: 'stop' };

interface Lost {
  id: string;
  status: string | null;
  reason: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 16 });
let config: Start | null = null;
const alive = new Set<string>();
const dropped = new Set<string>();
const lastOk = new Map<string, number>();
const stats: BeaterStats = {
  cycles: 0,
  lateCycles: 0,
  cycleMs: [],
  requests: 0,
  non200: 0,
  errors: 0,
  okBeats: 0,
  unexpectedLost: [],
  lostAfterDrop: 0,
  maxGapMs: 0,
  lastOkOfDropped: {},
  firstError: null,
};
let stopping = false;

function post(path: string, body: unknown): Promise<{ status: number; text: string }> {
  const url = config!.url;
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}${path}`,
      {
        method: 'POST',
        agent,
        timeout: 30_000,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Sends one batch; records accepted beats and losses. */
async function beat(ids: string[]): Promise<{ ok: number; lost: number }> {
  stats.requests++;
  let answer: { status: number; text: string };
  const sentAt = Date.now();
  try {
    answer = await post('/v1/heartbeats', { beats: ids.map((id) => ({ id, attempt: 1 })) });
  } catch (error) {
    stats.errors++;
    stats.firstError ??= String(error);
    return { ok: 0, lost: 0 };
  }
  const now = Date.now();
  if (answer.status !== 200) {
    stats.non200++;
    stats.firstError ??= `HTTP ${answer.status}: ${answer.text.slice(0, 300)}`;
    return { ok: 0, lost: 0 };
  }
  const { ok, lost } = JSON.parse(answer.text) as { ok: string[]; lost: Lost[] };
  for (const id of ok) {
    const previous = lastOk.get(id);
    if (previous !== undefined && !dropped.has(id))
      stats.maxGapMs = Math.max(stats.maxGapMs, now - previous);
    lastOk.set(id, now);
  }
  stats.okBeats += ok.length;
  for (const l of lost) {
    // A runner told its execution is lost stops beating it (docs/api.md: "the runner must stop").
    alive.delete(l.id);
    if (dropped.has(l.id)) stats.lostAfterDrop++;
    else stats.unexpectedLost.push({ ...l, sentAt, previousOkAt: lastOk.get(l.id) ?? null });
  }
  return { ok: ok.length, lost: lost.length };
}

/**
 * Beats `ids` in batches, `concurrency` requests at a time; with `spreadMs`, batch k is not sent
 * before k × spreadMs / batches after the start.
 */
async function beatAll(ids: string[], spreadMs = 0): Promise<{ ok: number; lost: number }> {
  const { batchSize, concurrency } = config!;
  const batches: string[][] = [];
  for (let i = 0; i < ids.length; i += batchSize) batches.push(ids.slice(i, i + batchSize));
  let next = 0;
  const total = { ok: 0, lost: 0 };
  const started = Date.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, batches.length) }, async () => {
      while (next < batches.length && !stopping) {
        const k = next++;
        const wait = started + (k * spreadMs) / batches.length - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        const r = await beat(batches[k]!);
        total.ok += r.ok;
        total.lost += r.lost;
      }
    }),
  );
  return total;
}

async function loop(): Promise<void> {
  const { intervalMs, maxRunMs } = config!;
  const started = Date.now();
  let slot = started;
  while (!stopping && Date.now() - started < maxRunMs) {
    const cycleStart = Date.now();
    if (cycleStart - slot > 50) stats.lateCycles++;
    await beatAll([...alive], config!.paced ? intervalMs * 0.9 : 0);
    stats.cycles++;
    stats.cycleMs.push(Date.now() - cycleStart);
    slot += intervalMs;
    // An overrun cycle is followed at once by the next one; slots are never skipped.
    if (slot < Date.now() - intervalMs) slot = Date.now();
    const wait = slot - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

let running: Promise<void> | null = null;

// Bounded: without a start message within 30 s, give up.
const giveUp = setTimeout(() => process.exit(2), 30_000);

process.on('message', (m: Control) => {
  switch (m.type) {
    case 'start':
      clearTimeout(giveUp);
      config = m;
      running = loop().catch((error: unknown) => {
        console.error('beater failed:', error);
        process.exit(1);
      });
      break;
    case 'add':
      for (const id of m.ids) alive.add(id);
      void beatAll(m.ids).then((r) => process.send!({ type: 'added', ...r }));
      break;
    case 'drop':
      for (const id of m.ids) {
        alive.delete(id);
        dropped.add(id);
      }
      process.send!({ type: 'dropped', at: Date.now() });
      break;
    case 'stop':
      stopping = true;
      void (running ?? Promise.resolve()).then(() => {
        for (const id of dropped) stats.lastOkOfDropped[id] = lastOk.get(id) ?? 0;
        process.send!({ type: 'stats', stats }, () => process.exit(0));
      });
      break;
  }
});
