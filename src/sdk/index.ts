/**
 * What runners import (`vigil/sdk`): a typed client of the HTTP API, `run()` with liveness from a
 * worker thread and progress from the work loop, a shutdown handler, and the heartbeat file writer
 * of supervised processes. See docs/sdk.md and docs/processes.md.
 */
export { VigilClient, DEFAULT_URL } from './client.js';
export type { VigilClientOptions } from './client.js';
export type { RunContext, RunOptions, SlotGrant } from './run.js';
export type { Worker, WorkerOptions } from './worker.js';
export { installShutdownHandler } from './shutdown.js';
export { HeartbeatWriter } from './heartbeat-file.js';
export type { HeartbeatWriterOptions } from './heartbeat-file.js';
export type { ShutdownOptions } from './shutdown.js';
export { livenessIntervalMs } from './liveness.js';
export {
  VigilApiError,
  VigilConnectionError,
  LostOwnershipError,
  isAlreadyEnded,
  isLostOwnership,
} from './errors.js';
export { isTransient } from './transport.js';
export type * from './types.js';
