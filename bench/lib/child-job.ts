/**
 * The child side of a benchmark's load process: says it is ready, runs the one job its parent
 * sends, sends back the result and exits. Bounded: without a job within 30 s it gives up (exit 2);
 * a job that fails exits 1.
 */
export function serveJob<Job, Result>(name: string, run: (job: Job) => Promise<Result>): void {
  const giveUp = setTimeout(() => {
    console.error(`${name}: no job received within 30 s`);
    process.exit(2);
  }, 30_000);

  process.once('message', (job: Job) => {
    clearTimeout(giveUp);
    run(job).then(
      (result) => process.send!({ type: 'result', result }, () => process.exit(0)),
      (error: unknown) => {
        console.error(`${name} failed:`, error);
        process.exit(1);
      },
    );
  });

  process.send!({ type: 'ready' });
}
