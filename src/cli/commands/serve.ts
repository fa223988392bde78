import { hostname } from 'node:os';
import type { Command } from 'commander';
import { BadInputError } from '../../errors.js';
import type { CliIo, GlobalOptions } from '../context.js';
import { withStore } from '../context.js';

export function serveCommand(program: Command, io: CliIo): void {
  program
    .command('serve')
    .description('the service: HTTP API, sweeps at each deadline, events, metrics')
    .option('--port <n>', 'port to listen on (default 7070, VIGIL_PORT; 0 picks a free one)')
    .option('--host <address>', 'address to bind (default 127.0.0.1 without tokens)')
    .action(async (options: { port?: string; host?: string }, command: Command) => {
      const global = command.optsWithGlobals<GlobalOptions>();
      const env = { ...io.env };
      if (options.port !== undefined) {
        if (!/^\d+$/.test(options.port) || Number(options.port) > 65_535) {
          throw new BadInputError([
            `--port: expected a port number 0-65535, got ${JSON.stringify(options.port)}`,
          ]);
        }
        env.VIGIL_PORT = options.port;
      }
      if (options.host !== undefined) env.VIGIL_HOST = options.host;
      const [{ openAdapters }, { startServer }] = await Promise.all([
        import('../../app/adapters.js'),
        import('../../http/server.js'),
      ]);
      await withStore({ ...io, env }, global, async (store, config) => {
        const { slots, owners, close } = await openAdapters(config, store);
        const replica = `${hostname()}:${process.pid}`;
        const server = await startServer({
          store,
          config,
          slots,
          owners,
          clock: io.clock,
          replica,
          logger: { level: io.env.VIGIL_LOG_LEVEL ?? 'warn' },
        });
        io.out(`vigil: listening on ${server.url}`);
        io.out(`vigil: store ${store.description}; config ${config.source}`);
        io.out(`vigil: slots ${slots.description}`);
        await server.service.announce();
        const replicas = await server.service.replicas().catch(() => []);
        io.out(
          `vigil: replica ${replica}; ${replicas.length} live on this store: ${replicas.join(', ')}`,
        );
        if (
          config.token === null &&
          config.runnerTokens.length === 0 &&
          config.viewerTokens.length === 0
        ) {
          io.out(`vigil: no tokens configured (VIGIL_TOKEN): bound to ${config.host} only`);
        }
        const signal = await new Promise<NodeJS.Signals>((resolve) => {
          process.once('SIGTERM', () => resolve('SIGTERM'));
          process.once('SIGINT', () => resolve('SIGINT'));
        });
        io.out(`vigil: ${signal}: shutting down`);
        await server.close();
        await close();
      });
    });
}
