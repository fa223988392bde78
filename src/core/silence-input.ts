/**
 * A silence as a request body or a `silences:` entry of vigil.yaml gives it, checked: every
 * problem names its key, what was expected and what arrived. Pure: `now` is an argument.
 */
import { parseDuration } from './duration.js';
import { parseIsoWithZone } from './iso-time.js';
import type { Matchers, Silence } from './silence.js';
import { MATCHER_KEYS } from './silence.js';

/** What a caller may give: `endsAt` or `duration`; `startsAt` defaults to now. */
export interface SilenceFields {
  matchers: Matchers;
  startsAt: number;
  endsAt: number;
  createdBy: string;
  comment: string;
  maintenance: boolean;
}

export type Checked = { ok: true; value: SilenceFields } | { ok: false; errors: string[] };

const got = (value: unknown): string =>
  value === undefined ? 'nothing' : (JSON.stringify(value) ?? typeof value);

/** Checks matchers: an object of `kind`, `owner`, `source`, `verdict`, each a string or a list. */
export function checkMatchers(raw: unknown, key: string, errors: string[]): Matchers {
  const matchers: Matchers = {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    errors.push(`${key}: expected an object like {"kind": "backup"}, got ${got(raw)}`);
    return matchers;
  }
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!(MATCHER_KEYS as readonly string[]).includes(name)) {
      errors.push(`${key}.${name}: expected one of ${MATCHER_KEYS.join(', ')}, got ${got(name)}`);
      continue;
    }
    const values = typeof value === 'string' ? [value] : value;
    if (
      !Array.isArray(values) ||
      values.length === 0 ||
      values.some((v) => typeof v !== 'string' || v === '')
    ) {
      errors.push(`${key}.${name}: expected a non-empty string or list of them, got ${got(value)}`);
      continue;
    }
    matchers[name as keyof Matchers] = values as string[];
  }
  if (Object.keys(matchers).length === 0 && !errors.some((e) => e.startsWith(key))) {
    errors.push(
      `${key}: expected at least one of ${MATCHER_KEYS.join(', ')} (to hold everything, pause), got ${got(raw)}`,
    );
  }
  return matchers;
}

/** A moment: an ISO-8601 time with its zone, or milliseconds since the epoch. */
function checkTime(raw: unknown, key: string, errors: string[]): number | undefined {
  if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0) return raw;
  const ms = typeof raw === 'string' ? parseIsoWithZone(raw) : undefined;
  if (ms === undefined) {
    errors.push(
      `${key}: expected an ISO-8601 time with its zone ("2026-12-24T22:00:00Z") or milliseconds since the epoch, got ${got(raw)}`,
    );
  }
  return ms;
}

function checkText(raw: unknown, key: string, errors: string[]): string {
  if (typeof raw === 'string' && raw.trim() !== '') return raw.trim();
  errors.push(`${key}: expected a non-empty string, got ${got(raw)}`);
  return '';
}

/**
 * Checks a silence. `prefix` names where it came from (`silences.0.` in vigil.yaml, nothing in a
 * request). `duration` (a duration, or milliseconds) may stand for `endsAt`.
 */
export function checkSilence(
  raw: unknown,
  now: number,
  options: { prefix?: string; defaultCreatedBy?: string } = {},
): Checked {
  const p = options.prefix ?? '';
  const errors: string[] = [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, errors: [`${p || 'body'}: expected an object, got ${got(raw)}`] };
  }
  const body = raw as Record<string, unknown>;
  const known = [
    'matchers',
    'startsAt',
    'endsAt',
    'duration',
    'createdBy',
    'comment',
    'maintenance',
  ];
  for (const name of Object.keys(body)) {
    if (!known.includes(name))
      errors.push(`${p}${name}: expected one of ${known.join(', ')}, got ${got(name)}`);
  }
  const matchers = checkMatchers(body.matchers, `${p}matchers`, errors);
  const startsAt =
    body.startsAt === undefined ? now : (checkTime(body.startsAt, `${p}startsAt`, errors) ?? now);
  let endsAt: number | undefined;
  if (body.endsAt !== undefined && body.duration !== undefined) {
    errors.push(`${p}duration: expected endsAt or duration, not both, got both`);
  } else if (body.endsAt !== undefined) {
    endsAt = checkTime(body.endsAt, `${p}endsAt`, errors);
  } else if (body.duration !== undefined) {
    const parsed = parseDuration(body.duration);
    if (parsed.ok && parsed.ms > 0) endsAt = startsAt + parsed.ms;
    else
      errors.push(
        `${p}duration: ${parsed.ok ? `expected above zero, got ${got(body.duration)}` : parsed.error}`,
      );
  } else {
    errors.push(`${p}endsAt: required: expected endsAt or duration, got nothing`);
  }
  if (endsAt !== undefined && endsAt <= startsAt) {
    errors.push(`${p}endsAt: expected a moment after startsAt, got ${got(body.endsAt ?? endsAt)}`);
  }
  const createdBy =
    body.createdBy === undefined && options.defaultCreatedBy !== undefined
      ? options.defaultCreatedBy
      : checkText(body.createdBy, `${p}createdBy`, errors);
  const comment = checkText(body.comment, `${p}comment`, errors);
  if (body.maintenance !== undefined && typeof body.maintenance !== 'boolean') {
    errors.push(`${p}maintenance: expected true or false, got ${got(body.maintenance)}`);
  }
  if (errors.length > 0 || endsAt === undefined) return { ok: false, errors };
  return {
    ok: true,
    value: {
      matchers,
      startsAt,
      endsAt,
      createdBy,
      comment,
      maintenance: body.maintenance === true,
    },
  };
}

/**
 * The windows of `silences:` in vigil.yaml: each needs `startsAt` and `endsAt` (a file has no
 * "now"), is named `config-N` (N from 1, in file order) and cannot be expired through the API.
 */
export function configuredSilences(raw: readonly unknown[] | undefined, problems: string[]) {
  const silences: Silence[] = [];
  for (const [i, entry] of (raw ?? []).entries()) {
    const prefix = `silences.${i}.`;
    const body = entry as Record<string, unknown> | null;
    if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
      if (body.startsAt === undefined)
        problems.push(`${prefix}startsAt: required in vigil.yaml, got nothing`);
      if (body.duration !== undefined)
        problems.push(`${prefix}duration: expected endsAt in vigil.yaml, got duration`);
    }
    const checked = checkSilence(entry, 0, { prefix, defaultCreatedBy: 'vigil.yaml' });
    if (!checked.ok) {
      problems.push(...checked.errors);
      continue;
    }
    silences.push({
      ...checked.value,
      id: `config-${i + 1}`,
      createdAt: checked.value.startsAt,
      expiredAt: null,
      origin: 'config',
    });
  }
  return silences;
}
