/** The store adapters as the edges (HTTP, CLI) reach them: opening one, and reading its errors. */
export { openStore, storeError } from '../stores/open-store.js';
export type { OpenStoreOptions } from '../stores/open-store.js';
