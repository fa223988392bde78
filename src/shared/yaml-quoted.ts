import type { Node } from 'yaml';
import { isMap, isScalar, isSeq } from 'yaml';

/**
 * The keys (`probes.bot.expect.body`, `list.0`) of a YAML document whose values were written
 * quoted: text the author meant as text, even when an environment variable makes it look like a
 * number.
 */
export function quotedKeys(
  node: Node | null,
  path: readonly (string | number)[] = [],
): Set<string> {
  const keys = new Set<string>();
  const walk = (at: unknown, where: readonly (string | number)[]) => {
    if (isMap(at)) {
      for (const pair of at.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        walk(pair.value, [...where, key]);
      }
    } else if (isSeq(at)) {
      at.items.forEach((item, index) => walk(item, [...where, index]));
    } else if (isScalar(at) && (at.type === 'QUOTE_DOUBLE' || at.type === 'QUOTE_SINGLE')) {
      keys.add(where.length === 0 ? '(top level)' : where.join('.'));
    }
  };
  walk(node, path);
  return keys;
}
