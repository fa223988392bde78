/**
 * A runner process for bench/sdk-blocked.ts: runs `count` executions one after another through the
 * SDK (from dist/, as a user would import it), each blocking this process's main thread with a
 * CPU-bound loop of `blockMs`. Reports each outcome to the parent over IPC.
 */
import { VigilClient } from '../../dist/sdk/index.js';

const [url, count, blockMs, heartbeat] = process.argv.slice(2);
const client = new VigilClient({ url: url! });

for (let i = 0; i < Number(count); i++) {
  let id = '';
  try {
    await client.run(
      { kind: 'cpu-bound', limits: { heartbeat: heartbeat!, run: '5m' } },
      async (ctx) => {
        id = ctx.id;
        const until = Date.now() + Number(blockMs);
        let x = 1;
        while (Date.now() < until) x = (x * 1103515245 + 12345) % 2 ** 31;
        return { x };
      },
    );
    process.send!({ id, outcome: 'returned' });
  } catch (error) {
    process.send!({ id, outcome: `threw: ${(error as Error).message}` });
  }
}
process.send!({ done: true });
process.exit(0);
