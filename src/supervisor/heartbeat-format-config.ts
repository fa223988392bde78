/**
 * `processes.NAME.heartbeatFormat` in vigil.yaml: the heartbeat file as the process already writes
 * it. Every key is optional; what is left out keeps Vigil's own format.
 */
import * as z from 'zod';
import type { HeartbeatFormat, TimeForm } from '../core/heartbeat-format.js';
import { DEFAULT_HEARTBEAT_FORMAT, TIME_FORMS } from '../core/heartbeat-format.js';

const key = z.string().min(1, 'expected a key of the heartbeat JSON');
/** A key, or `false`: the file has no such field. */
const optionalKey = z.unknown().transform((value, ctx): string | false => {
  if (value === false || (typeof value === 'string' && value !== '')) return value;
  ctx.addIssue({
    code: 'custom',
    message: `expected a key of the heartbeat JSON or false (the file has none), got ${JSON.stringify(value) ?? 'nothing'}`,
  });
  return z.NEVER;
});
/** One time form or a list of them. */
const timeForms = z.unknown().transform((value, ctx): TimeForm[] => {
  const list = Array.isArray(value) ? (value as unknown[]) : [value];
  const isForm = (v: unknown): v is TimeForm => TIME_FORMS.includes(v as TimeForm);
  if (list.length > 0 && list.every(isForm)) return list;
  ctx.addIssue({
    code: 'custom',
    message: `expected one of ${TIME_FORMS.join(', ')} or a list of them, got ${JSON.stringify(value) ?? 'nothing'}`,
  });
  return z.NEVER;
});

export const heartbeatFormatSchema = z
  .strictObject({
    name: optionalKey.optional(),
    pid: key.optional(),
    at: key.optional(),
    startedAt: optionalKey.optional(),
    status: optionalKey.optional(),
    seq: optionalKey.optional(),
    time: timeForms.optional(),
    errorStatuses: z.array(z.string().min(1)).optional(),
  })
  .superRefine((format, ctx) => {
    const forms = format.time ?? [];
    if (forms.includes('epoch-seconds') && forms.includes('epoch-millis')) {
      ctx.addIssue({
        code: 'custom',
        path: ['time'],
        message:
          'expected at most one of epoch-seconds and epoch-millis (a number would be ambiguous), got both',
      });
    }
    if (format.errorStatuses !== undefined && format.status === false) {
      ctx.addIssue({
        code: 'custom',
        path: ['errorStatuses'],
        message: 'expected no errorStatuses when status is false (the file has no status)',
      });
    }
  });

export function toHeartbeatFormat(
  raw: z.infer<typeof heartbeatFormatSchema> | undefined,
): HeartbeatFormat {
  if (raw === undefined) return DEFAULT_HEARTBEAT_FORMAT;
  const d = DEFAULT_HEARTBEAT_FORMAT;
  const optional = (value: string | false | undefined, fallback: string | null) =>
    value === false ? null : (value ?? fallback);
  const time: TimeForm[] = raw.time ?? [...d.time];
  return Object.freeze({
    name: optional(raw.name, d.name),
    pid: raw.pid ?? d.pid,
    at: raw.at ?? d.at,
    startedAt: optional(raw.startedAt, d.startedAt),
    status: optional(raw.status, d.status),
    seq: optional(raw.seq, d.seq),
    time: Object.freeze(time),
    errorStatuses: raw.errorStatuses ? Object.freeze([...raw.errorStatuses]) : null,
  });
}
