/**
 * Heartbeat files in the shape their processes already write: which key holds each field, how
 * times are written, which statuses mean failure. The default is Vigil's own format
 * ({name, pid, startedAt, at, status, seq}, ISO times). Pure: text in, a beat or a problem out.
 */
import { parseIsoWithZone } from './iso-time.js';

/** How a time is written: an ISO-8601 string with a zone, or a number since the epoch. */
export const TIME_FORMS = ['iso', 'epoch-seconds', 'epoch-millis'] as const;
export type TimeForm = (typeof TIME_FORMS)[number];

export interface HeartbeatFormat {
  /** The key holding the process's name; null when the file has none (then it is not checked). */
  name: string | null;
  pid: string;
  /** When the beat was written. */
  at: string;
  /** When the process started; null when the file has none: the pid's OS start time is used. */
  startedAt: string | null;
  /** The process's own status; null when the file has none. */
  status: string | null;
  /** A counter the process raises each beat; null when the file has none. */
  seq: string | null;
  /** The forms a time may take (at most one epoch form, so a number is never ambiguous). */
  time: readonly TimeForm[];
  /** Statuses that mean failure (compared without case); null: the default set. */
  errorStatuses: readonly string[] | null;
}

export const DEFAULT_HEARTBEAT_FORMAT: HeartbeatFormat = Object.freeze({
  name: 'name',
  pid: 'pid',
  at: 'at',
  startedAt: 'startedAt',
  status: 'status',
  seq: 'seq',
  time: Object.freeze(['iso'] as TimeForm[]),
  errorStatuses: null,
});

/** One heartbeat (times in milliseconds since the epoch). */
export interface ProcessHeartbeat {
  /** The name the file gives; null when its format has none. */
  name: string | null;
  pid: number;
  /**
   * When the process started: from the file, or (formats without it) the OS start time of the pid
   * once the judge has checked it; null until then.
   */
  startedAt: number | null;
  /** When this beat was written. */
  at: number;
  status: string | null;
  /** Counts beats since the process started; null when the format has no counter. */
  seq: number | null;
}

/**
 * Statuses that say the process itself reports a failure. Anything else (`ok`, `starting`,
 * `busy`…) is the process's own business.
 */
const DEFAULT_ERROR_STATUSES = new Set(['error', 'failed', 'failing', 'unhealthy', 'fatal']);

export function isErrorStatus(
  status: string,
  errorStatuses: readonly string[] | null = null,
): boolean {
  const lower = status.trim().toLowerCase();
  if (errorStatuses !== null) return errorStatuses.some((s) => s.trim().toLowerCase() === lower);
  return DEFAULT_ERROR_STATUSES.has(lower) || lower.startsWith('error:');
}

function readTime(value: unknown, forms: readonly TimeForm[]): number | undefined {
  if (typeof value === 'string') {
    return forms.includes('iso') ? parseIsoWithZone(value) : undefined;
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return undefined;
  if (forms.includes('epoch-seconds')) return Math.round(value * 1_000);
  if (forms.includes('epoch-millis')) return Math.round(value);
  return undefined;
}

const TIME_EXPECTED: Record<TimeForm, string> = {
  iso: 'an ISO-8601 time with a timezone (Z or +hh:mm)',
  'epoch-seconds': 'a number of seconds since the epoch',
  'epoch-millis': 'a number of milliseconds since the epoch',
};

/**
 * Parses a heartbeat file's text. Never throws: an empty, partial, corrupt or ambiguous file is a
 * problem sentence naming the field, because a heartbeat that cannot be read proves nothing.
 */
export function parseHeartbeat(
  text: string,
  format: HeartbeatFormat = DEFAULT_HEARTBEAT_FORMAT,
): { ok: true; beat: ProcessHeartbeat } | { ok: false; problem: string } {
  if (text.trim() === '') return { ok: false, problem: 'the file is empty' };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return {
      ok: false,
      problem: `not valid JSON (partial or corrupt): ${(error as Error).message}`,
    };
  }
  const keys = [format.name, format.pid, format.startedAt, format.at, format.status, format.seq];
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return {
      ok: false,
      problem: `expected a JSON object {${keys.filter((k) => k !== null).join(', ')}}`,
    };
  }
  const record = raw as Record<string, unknown>;
  const problems: string[] = [];
  /** The value under `key` when the format has one; null when it has none. */
  const field = <T>(
    key: string | null,
    check: (v: unknown) => T | undefined,
    expected: string,
  ): T | null | undefined => {
    if (key === null) return null;
    const value = check(record[key]);
    if (value === undefined) {
      problems.push(
        `${key}: expected ${expected}, got ${JSON.stringify(record[key]) ?? 'nothing'}`,
      );
    }
    return value;
  };
  const text_ = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const time = (v: unknown) => readTime(v, format.time);
  const timeExpected = format.time.map((form) => TIME_EXPECTED[form]).join(' or ');
  const name = field(format.name, text_, 'a string');
  const pid = field(
    format.pid,
    (v) => (Number.isInteger(v) && (v as number) > 0 ? (v as number) : undefined),
    'a positive integer',
  );
  const startedAt = field(format.startedAt, time, timeExpected);
  const at = field(format.at, time, timeExpected);
  const status = field(format.status, text_, 'a string');
  const seq = field(
    format.seq,
    (v) => (Number.isInteger(v) && (v as number) >= 0 ? (v as number) : undefined),
    'a non-negative integer',
  );
  if (
    problems.length > 0 ||
    name === undefined ||
    pid === null ||
    pid === undefined ||
    startedAt === undefined ||
    at === null ||
    at === undefined ||
    status === undefined ||
    seq === undefined
  ) {
    return { ok: false, problem: problems.join('; ') };
  }
  return { ok: true, beat: { name, pid, startedAt, at, status, seq } };
}
