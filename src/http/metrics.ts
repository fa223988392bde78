import type { ReadStore } from '../ports/read-store.js';
import type { StoreAdmin } from '../ports/store-admin.js';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Vigil } from '../app/vigil.js';

/**
 * Prometheus metrics, on a registry of this app's own (never the global one, so two apps in one
 * process do not collide). Labelled by replica.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly heartbeats: Counter;
  readonly contentType: string;

  constructor(options: {
    vigil: Vigil;
    store: Pick<ReadStore, 'countOpen'> & Pick<StoreAdmin, 'silences'>;
    replica?: string | undefined;
  }) {
    const { vigil, store } = options;
    const { service } = vigil;
    this.registry.setDefaultLabels({ replica: options.replica ?? 'local' });
    this.contentType = this.registry.contentType;
    const registers = [this.registry];

    const open = new Gauge({
      name: 'vigil_executions_open',
      help: 'Open executions by status (queued, running) and kind',
      labelNames: ['status', 'kind'],
      registers,
      async collect() {
        this.reset();
        for (const row of await store.countOpen())
          open.set({ status: row.status, kind: row.kind }, row.count);
      },
    });
    const remediations = new Counter({
      name: 'vigil_remediations_total',
      help: 'Executions remediated by the watchdog, by verdict and action',
      labelNames: ['verdict', 'action'],
      registers,
    });
    const late = new Counter({
      name: 'vigil_late_results_total',
      help: 'Reports that arrived after the watchdog had ended the attempt (kept as lateResult)',
      registers,
    });
    const sweepDuration = new Histogram({
      name: 'vigil_sweep_duration_seconds',
      help: 'Duration of completed sweeps',
      labelNames: ['dry_run'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    });
    const lastSweep = new Gauge({
      name: 'vigil_last_successful_sweep_timestamp_seconds',
      help: 'When the last sweep finished successfully (Unix time)',
      registers,
    });
    this.heartbeats = new Counter({
      name: 'vigil_heartbeats_total',
      help: 'Heartbeats received (each beat of a batch counts)',
      labelNames: ['outcome'],
      registers,
    });
    new Gauge({
      name: 'vigil_clock_skew_seconds',
      help: "This replica's clock minus the database's, last measured (0 on SQLite: one clock)",
      registers,
      collect() {
        const skew = service.clockSkew();
        if (skew !== null) this.set(skew / 1_000);
      },
    });
    new Gauge({
      name: 'vigil_healthy',
      help: '1 while sweeps succeed and the store is reachable, else 0',
      registers,
      collect() {
        this.set(service.health().ok ? 1 : 0);
      },
    });

    new Gauge({
      name: 'vigil_store_up',
      help: "Each store: 1 answering, 0 not (database: Vigil's database; slots: where slots live)",
      labelNames: ['store'],
      registers,
      collect() {
        const health = service.health();
        this.set({ store: 'database' }, health.database.up ? 1 : 0);
        this.set({ store: 'slots' }, health.slots.up ? 1 : 0);
      },
    });

    const events = new Counter({
      name: 'vigil_events_total',
      help: 'Events emitted, by type (process:*, probe:*, owner:unreachable, breaker:*, …)',
      labelNames: ['type'],
      registers,
    });
    new Gauge({
      name: 'vigil_probe_up',
      help: 'Each HTTP probe: 1 passing, 0 failing (absent before its first verdict)',
      labelNames: ['probe'],
      registers,
      collect() {
        this.reset();
        for (const probe of vigil.watchers.probes.status()) {
          if (probe.state !== 'unknown')
            this.set({ probe: probe.name }, probe.state === 'passing' ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'vigil_process_healthy',
      help: 'Each supervised process: 1 healthy, 0 not (absent before its first check, or off)',
      labelNames: ['process'],
      registers,
      async collect() {
        this.reset();
        for (const process of (await vigil.supervisor?.status()) ?? []) {
          if (process.enabled && process.verdict !== null)
            this.set({ process: process.name }, process.verdict === 'healthy' ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'vigil_owner_breaker_open',
      help: 'Each owner with a registry: 1 while its breaker is open (destructive actions paused)',
      labelNames: ['owner'],
      registers,
      collect() {
        this.reset();
        for (const owner of service.sweeper.ownerWatch.status())
          this.set({ owner: owner.name }, owner.breaker === 'open' ? 1 : 0);
      },
    });

    new Counter({
      name: 'vigil_pruned_rows_total',
      help: 'Rows deleted by retention since start, by table (retention:)',
      labelNames: ['table'],
      registers,
      collect() {
        this.reset();
        for (const [table, rows] of Object.entries(service.pruner.totals))
          this.inc({ table }, rows);
      },
    });
    new Gauge({
      name: 'vigil_paused',
      help: '1 while Vigil is paused (observe only: no destructive action anywhere)',
      registers,
      async collect() {
        this.set((await store.silences().pauseState()) === null ? 0 : 1);
      },
    });

    service.events.on((event) => {
      events.inc({ type: event.type });
      if (event.type === 'execution:remediated') {
        remediations.inc({ verdict: String(event.verdict), action: String(event.action) });
      } else if (event.type === 'execution:late-result') {
        late.inc();
      } else if (event.type === 'sweep:completed') {
        const report = event as unknown as { dryRun: boolean; durationMs: number; at: number };
        sweepDuration.observe({ dry_run: String(report.dryRun) }, report.durationMs / 1000);
        if (!report.dryRun) lastSweep.set(report.at / 1000);
      }
    });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
