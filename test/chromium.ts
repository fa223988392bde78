import { existsSync } from 'node:fs';

/** Debian's chromium, which the browser tests drive (playwright-core). */
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Like PostgreSQL and Redis: skipped loudly outside CI when missing, required in CI. */
export const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  if (process.env.CI) throw new Error(`chromium is required in CI and is missing at ${CHROMIUM}`);
  console.warn(`\n!!! chromium not found at ${CHROMIUM}: the browser tests are SKIPPED\n`);
}
