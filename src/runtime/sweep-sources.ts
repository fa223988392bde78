import type { Source, SourceSweepContext, SourceSweepResult } from '../ports/source.js';

/**
 * Sweeps each source in turn and merges what they report. A source that throws is recorded as a
 * problem of its own and the next source is still swept: one broken source never stops the others.
 */
export async function sweepSources(
  sources: readonly Source[],
  context: SourceSweepContext & { warn?: ((message: string) => void) | undefined },
): Promise<SourceSweepResult> {
  const merged: SourceSweepResult = { examined: 0, decisions: [], counts: {}, errors: [] };
  for (const source of sources) {
    let result: SourceSweepResult;
    try {
      result = await source.sweep(context);
    } catch (error) {
      result = {
        examined: 0,
        decisions: [],
        counts: { failed: 1 },
        errors: [
          {
            source: source.name,
            key: source.name,
            message: error instanceof Error ? error.message : String(error),
          },
        ],
      };
    }
    merged.examined += result.examined;
    merged.decisions.push(...result.decisions);
    merged.errors.push(...result.errors);
    for (const [name, n] of Object.entries(result.counts)) {
      merged.counts[name] = (merged.counts[name] ?? 0) + n;
    }
  }
  for (const error of merged.errors) context.warn?.(`${error.key}: ${error.message}`);
  return merged;
}
