import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import type { Clock } from '../ports.js';
import type { ExecutionStore } from '../ports/execution-store.js';
import type { OwnerClient } from '../ports/owner-client.js';
import type { SlotStore } from '../ports/slot-store.js';
import { Notifications } from '../notify/index.js';
import { Service } from '../runtime/service.js';
import { buildApp } from './app.js';

export interface RunningServer {
  app: FastifyInstance;
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

/** Starts the service and binds the HTTP port. `close` stops both and leaves the store open. */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { store, config, clock } = options;
  const logger = options.logger ?? false;
  const service = new Service({
    store,
    config,
    clock,
    owners: options.owners,
    slots: options.slots,
    replica: options.replica,
    onError: (error, where) => app.log.error({ err: error }, `${where} failed`),
    onWarning: (message) => app.log.warn(message),
  });
  const app = await buildApp({ service, store, config, clock, logger, replica: options.replica });
  await app.listen({ port: config.port, host: config.host });
  // Listening to the bus before the first sweep, so nothing it emits is missed.
  const notifications =
    config.notify &&
    new Notifications({
      events: service.events,
      store,
      config: config.notify,
      clock,
      onError: (error, where) => app.log.error({ err: error }, `${where} failed`),
    });
  service.start();
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  return {
    app,
    service,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: async () => {
      service.stop();
      await service.supervisor?.stop(); // a check under way finishes before the store closes
      await service.watchers.settle();
      await notifications?.stop();
      await app.close();
    },
  };
}
