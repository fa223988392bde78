/**
 * The liveness thread of `VigilClient.run()`: heartbeats WITHOUT progress on a fixed cadence, from
 * its own event loop, so they keep flowing while the runner's main thread is busy with CPU-bound
 * work. It proves the process is alive, nothing more; progress comes from `ctx.beat()`.
 *
 * Stops (and exits) when Vigil answers that the execution is no longer this runner's, after
 * telling the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { VigilApiError, isLostOwnership, lostOwnershipOf } from './errors.js';
import type { LivenessMessage, LivenessWorkerData } from './liveness.js';
import { Transport, isTransient } from './transport.js';

const data = workerData as LivenessWorkerData;
const port = parentPort;
if (!port) throw new Error('liveness-worker.js runs as a worker thread of VigilClient.run()');
const post = (message: LivenessMessage) => port.postMessage(message);

const transport = new Transport({
  url: data.url,
  token: data.token,
  fetch: globalThis.fetch,
  timeoutMs: data.timeoutMs,
  retries: data.retries,
});
const path = `/v1/executions/${encodeURIComponent(data.id)}/heartbeat`;

/** Failures are reported once per streak: a service down for an hour is one warning, not 10,000. */
let isFailing = false;

async function beat(): Promise<void> {
  const startedAt = Date.now();
  try {
    await transport.request('POST', path, { attempt: data.attempt }, { retry: true });
    isFailing = false;
  } catch (error) {
    if (isLostOwnership(error)) {
      const lost = lostOwnershipOf(data.id, error);
      post({ type: 'lost', status: lost.status, reason: lost.reason });
      return;
    }
    if (error instanceof VigilApiError && error.code === 'not_found') {
      post({ type: 'lost', status: null, reason: error.message });
      return;
    }
    if (!isFailing) {
      post({
        type: 'error',
        message: error instanceof Error ? error.message : String(error),
        transient: isTransient(error),
      });
    }
    isFailing = true;
  }
  // A fixed cadence from the start of each beat; a slow answer delays the next beat, never
  // overlaps it, so beats cannot arrive out of order.
  setTimeout(() => void beat(), Math.max(0, data.intervalMs - (Date.now() - startedAt)));
}

post({ type: 'ready' });
void beat();
