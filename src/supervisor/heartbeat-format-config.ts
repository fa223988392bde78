/**
 * `processes.NAME.heartbeatFormat` in vigil.yaml: the heartbeat file as the process already writes
 * it. Every key is optional; what is left out keeps Vigil's own format.
 */
import { z } from 'zod';
import type { HeartbeatFormat, TimeForm } from '../core/heartbeat-format.js';
import { DEFAULT_HEARTBEAT_FORMAT, TIME_FORMS } from '../core/heartbeat-format.js';

const key = z.string().min(1, 'expected a key of the heartbeat JSON');
/** A key, or `false`: the file has no such field. */
const optionalKey = z.union([key, z.literal(false)], {
  error: (issue) =>
    `expected a key of the heartbeat JSON or false (the file has none), got ${JSON.stringify(issue.input) ?? 'nothing'}`,
});
const timeForm = z.enum(TIME_FORMS, {
  error: (issue) =>
    `expected one of ${TIME_FORMS.join(', ')}, got ${JSON.stringify(issue.input) ?? 'nothing'}`,
});

export const heartbeatFormatSchema = z
  .strictObject({
    name: optionalKey.optional(),
    pid: key.optional(),
    at: key.optional(),
    startedAt: optionalKey.optional(),
    status: optionalKey.optional(),
    seq: optionalKey.optional(),
    time: z.union([timeForm, z.array(timeForm).min(1)]).optional(),
    errorStatuses: z.array(z.string().min(1)).optional(),
  })
  .superRefine((format, ctx) => {
    const forms = typeof format.time === 'string' ? [format.time] : (format.time ?? []);
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
  const time: TimeForm[] =
    raw.time === undefined ? [...d.time] : typeof raw.time === 'string' ? [raw.time] : raw.time;
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
