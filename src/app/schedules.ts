/**
 * Schedules beyond vigil.yaml: those defined through the API (stored in the database, read again
 * at each pass). The mapped tables whose rows count as runs are read by table-starts.ts, loaded
 * only where `tables:` is configured (it brings the database drivers).
 */
import type { Config } from '../config.js';
import type { ScheduleSpec } from '../core/schedule-times.js';
import { BadInputError, VigilError } from '../errors.js';
import type { ScheduleStore } from '../ports/schedule-store.js';
import { parseSchedule, timingKey } from '../schedules/config.js';

/**
 * The schedules defined through the API, as a ScheduleWatch reads them. A stored one that no
 * longer holds against vigil.yaml (its table was removed from `tables:`, or vigil.yaml now defines
 * a schedule of the same name, which wins) is left out and reported once, naming the key.
 */
export function apiScheduleSpecs(
  config: Config,
  store: ScheduleStore,
  onError: (error: unknown, where: string) => void,
): () => Promise<ScheduleSpec[]> {
  const reported = new Set<string>();
  return async () => {
    const specs: ScheduleSpec[] = [];
    for (const stored of await store.listDefinitions()) {
      if (Object.hasOwn(config.schedules, stored.name)) {
        report(
          `${config.source} now defines schedules.${stored.name}, which is judged instead; delete the stored one with DELETE /v1/schedules/${stored.name} or vigil schedules rm ${stored.name}`,
          stored.name,
        );
        continue;
      }
      const parsed = parseSchedule(
        stored.name,
        stored.definition,
        config.tables,
        { source: 'api', since: stored.since },
        'definition',
      );
      if (parsed.ok) {
        specs.push(parsed.spec);
        continue;
      }
      report(parsed.problems.join('; '), stored.name);
    }
    return specs;
  };

  function report(problem: string, name: string): void {
    if (reported.has(problem)) return;
    reported.add(problem);
    onError(new Error(`not judged: ${problem}`), `schedule ${name}`);
  }
}

/**
 * Defines (or replaces) a schedule through the API or the CLI: checked like vigil.yaml's (each
 * problem named under `prefix`), refused for a schedule vigil.yaml defines.
 */
export async function putSchedule(
  config: Config,
  store: ScheduleStore,
  name: string,
  body: unknown,
  now: number,
  prefix: string,
): Promise<{ created: boolean; spec: ScheduleSpec }> {
  refuseConfigured(config, name, 'replaced');
  const parsed = parseSchedule(name, body, config.tables, { source: 'api', since: now }, prefix);
  if (!parsed.ok) throw new BadInputError(parsed.problems);
  const definition = body as Record<string, unknown>;
  const { created, since } = await store.putDefinition(
    name,
    definition,
    timingKey(parsed.spec.timing),
    now,
  );
  return { created, spec: { ...parsed.spec, since } };
}

/** Deletes a schedule defined through the API; refused for vigil.yaml's, not_found for none. */
export async function deleteSchedule(
  config: Config,
  store: ScheduleStore,
  name: string,
): Promise<void> {
  // A stored definition goes even when vigil.yaml has since defined the same name (vigil.yaml's is
  // the one judged; the stored one only waits to be deleted).
  if (await store.deleteDefinition(name)) return;
  refuseConfigured(config, name, 'deleted');
  const known = (await store.listDefinitions()).map((d) => d.name).join(', ') || 'none';
  throw new VigilError(
    'not_found',
    `no schedule named ${JSON.stringify(name)} defined through the API (defined: ${known})`,
  );
}

function refuseConfigured(config: Config, name: string, what: string): void {
  if (!Object.hasOwn(config.schedules, name)) return;
  throw new VigilError(
    'invalid_transition',
    `schedule ${JSON.stringify(name)} is defined in ${config.source} (schedules.${name}) and cannot be ${what} through the API or the CLI: change it in the file`,
  );
}
