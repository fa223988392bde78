export * from './types.js';
export * from './duration.js';
export * from './limits.js';
export * from './judge.js';
export * from './decide.js';
export * from './backoff.js';
export * from './workflow.js';
export * from './owner-breaker.js';
