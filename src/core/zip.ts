/**
 * Pairs two lists item by item, for answers that come back in the order they were asked (a
 * page's guarded decisions, a batch's write outcomes). Lists of different lengths are a broken
 * promise of the producer: this throws rather than pair an item with nothing.
 */
export function zip<A, B>(left: readonly A[], right: readonly B[]): [A, B][] {
  if (left.length !== right.length) {
    throw new Error(`expected one answer per item: ${left.length} items, ${right.length} answers`);
  }
  const pairs: [A, B][] = [];
  for (const [i, a] of left.entries()) {
    const b = right[i];
    if (b === undefined) throw new Error(`expected an answer for item ${i}, got none`);
    pairs.push([a, b]);
  }
  return pairs;
}
