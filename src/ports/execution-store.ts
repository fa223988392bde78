import type { AuditStore } from './audit-store.js';
import type { LeaseStore } from './lease-store.js';
import type { LedgerStore } from './ledger-store.js';
import type { ReadStore } from './read-store.js';
import type { RetentionStore } from './retention-store.js';
import type { SlotHoldStore } from './slot-store.js';
import type { StoreAdmin } from './store-admin.js';
import type { SweepStore } from './sweep-store.js';

/**
 * Where executions, attempts, the audit trail, leases and slot holds live: every role at once,
 * which is what a store kind (SQLite, PostgreSQL) implements and what the composition root opens.
 * A consumer takes only the roles it uses. Every method takes `now` from the runtime's clock; no
 * implementation reads the system time.
 */
export type ExecutionStore = StoreAdmin &
  LedgerStore &
  ReadStore &
  SweepStore &
  RetentionStore &
  AuditStore &
  LeaseStore &
  SlotHoldStore;
