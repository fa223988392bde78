/**
 * Named leases with a time to live: who sweeps, who supervises a process, which replicas run.
 * A holder that dies loses its lease when it expires.
 */
export interface LeaseStore {
  /** Takes or renews a named lease until `now + ttlMs`; false while another holder has it. */
  acquireLease(name: string, holder: string, now: number, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, holder: string): Promise<void>;
  /** Live holders of leases whose name starts with `prefix` (e.g. the replicas). */
  listLeases(prefix: string, now: number): Promise<{ name: string; holder: string }[]>;
}
