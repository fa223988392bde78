/**
 * SQL identifiers from configuration. They are checked against a strict pattern when the
 * configuration is loaded and always double-quoted when SQL is built, so a column name in
 * vigil.yaml can never become SQL of its own. Values never go through here: they are parameters.
 */

/** A plain SQL name: letters, digits and underscores, not starting with a digit; at most 63. */
const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export function isIdentifier(text: string): boolean {
  return NAME.test(text);
}

/** A table name, optionally qualified by its schema: `interactions` or `app.interactions`. */
export function isTableName(text: string): boolean {
  const parts = text.split('.');
  return parts.length <= 2 && parts.every(isIdentifier);
}

/** Quotes a validated identifier (or `schema.table`). Throws on anything else: a broken invariant. */
export function quote(name: string): string {
  if (!isTableName(name)) throw new Error(`not a valid SQL identifier: ${JSON.stringify(name)}`);
  return name
    .split('.')
    .map((part) => `"${part}"`)
    .join('.');
}
