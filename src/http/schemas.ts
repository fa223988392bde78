import * as z from 'zod';
import { EXECUTION_VERDICTS, STATUSES } from '../core/types.js';
import {
  attemptSchema,
  jsonSchema,
  newExecutionSchema,
  progressSchema,
} from '../runtime/ledger.js';
import { acquireSlotSchema, slotNameSchema } from '../runtime/slots.js';

/** The request schemas of the HTTP API: the routes validate with them, /openapi.json shows them. */
export const idSchema = z.string().min(1).max(200);

export const schemas = {
  create: newExecutionSchema,
  /** Each item is then parsed on its own (newExecutionSchema), so one bad item fails alone. */
  createBatch: z.strictObject({
    executions: z.array(z.unknown()).min(1).max(1_000),
  }),
  start: z.strictObject({ attempt: attemptSchema }),
  heartbeat: z.strictObject({ attempt: attemptSchema, progress: progressSchema.optional() }),
  heartbeats: z.strictObject({
    beats: z
      .array(
        z.strictObject({
          id: idSchema,
          attempt: attemptSchema,
          progress: progressSchema.optional(),
        }),
      )
      .min(1)
      .max(10_000),
  }),
  complete: z.strictObject({ attempt: attemptSchema, result: jsonSchema.optional() }),
  fail: z.strictObject({
    attempt: attemptSchema,
    error: jsonSchema,
    retryable: z.boolean().optional(),
  }),
  cancel: z.strictObject({ reason: z.string().max(2_000).optional() }),
  sweep: z.strictObject({ dryRun: z.boolean().optional() }),
  acquireSlot: acquireSlotSchema,
  releaseSlot: z.strictObject({ attempt: z.coerce.number().int().min(1) }),
  slotName: slotNameSchema,
  list: z.strictObject({
    status: z.enum(STATUSES).optional(),
    kind: z.string().max(200).optional(),
    owner: z.string().max(200).optional(),
    parentId: z.string().max(200).optional(),
    limit: z.coerce.number().int().min(1).max(1_000).optional(),
    cursor: z.string().max(1_000).optional(),
  }),
  remediations: z.strictObject({
    since: z.string().max(100).optional(),
    verdict: z.enum(EXECUTION_VERDICTS).optional(),
    executionId: z.string().max(200).optional(),
    limit: z.coerce.number().int().min(1).max(1_000).optional(),
  }),
};
