import type { FastifyInstance } from 'fastify';
import { Vigil } from '../app/vigil.js';
import type { Config } from '../config.js';
import type { Clock } from '../ports.js';
import type { ExecutionStore } from '../ports/execution-store.js';
import type { OwnerClient } from '../ports/owner-client.js';
import type { SlotStore } from '../ports/slot-store.js';
import type { Service } from '../runtime/service.js';
import { buildApp } from './app.js';

export interface RunningServer {
  app: FastifyInstance;
  vigil: Vigil;
  service: Service;
  url: string;
  close: () => Promise<void>;
}

export interface StartOptions {
  store: ExecutionStore;
  config: Config;
  clock: Clock;
  owners?: OwnerClient | undefined;
  slots?: SlotStore | undefined;
  logger?: boolean | object;
  replica?: string;
}

/** Starts Vigil and binds the HTTP port. `close` stops both and leaves the store open. */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { store, config, clock } = options;
  const logger = options.logger ?? false;
  const vigil = new Vigil({
    store,
    config,
    clock,
    owners: options.owners,
    slots: options.slots,
    replica: options.replica,
    notify: true,
    onError: (error, where) => app.log.error({ err: error }, `${where} failed`),
    onWarning: (message) => app.log.warn(message),
  });
  const app = await buildApp({ vigil, store, config, clock, logger, replica: options.replica });
  await app.listen({ port: config.port, host: config.host });
  vigil.start();
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  return {
    app,
    vigil,
    service: vigil.service,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: async () => {
      vigil.stop();
      await vigil.settle();
      await app.close();
    },
  };
}
