import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { processStartTime } from '../shared/proc.js';

export interface HeartbeatWriterOptions {
  /** The heartbeat file. Default: VIGIL_HEARTBEAT_FILE, which `vigil` sets for processes it starts. */
  file?: string;
  /** The process's name in vigil.yaml. Default: VIGIL_PROCESS_NAME, else the script's basename. */
  name?: string;
}

/**
 * Writes a supervised process's heartbeat file for `vigil proc` / `vigil serve`:
 * `{name, pid, startedAt, at, status, seq}` with ISO-8601 UTC times. Each beat is written to a
 * temporary file and renamed over the old one, so a reader never sees half a beat.
 *
 * `startedAt` is the operating system's start time of this process (from /proc on Linux), the
 * same value Vigil reads for the pid: that is how Vigil tells this process from an unrelated one
 * that later got the same pid, and never signals the wrong one.
 *
 * Beat from the code whose progress proves the process works (the request loop, the job loop):
 * a process that is alive but hung stops beating, and Vigil restarts it.
 */
export class HeartbeatWriter {
  readonly file: string;
  readonly name: string;
  readonly startedAt: number;
  private seq = 0;
  private isStopped = false;

  constructor(options: HeartbeatWriterOptions = {}) {
    const file = options.file ?? process.env.VIGIL_HEARTBEAT_FILE;
    if (!file) {
      throw new Error('HeartbeatWriter: expected options.file or VIGIL_HEARTBEAT_FILE');
    }
    this.file = file;
    this.name =
      options.name ??
      process.env.VIGIL_PROCESS_NAME ??
      basename(process.argv[1] ?? 'process').replace(/\.[cm]?[jt]s$/, '');
    // Off Linux there is no /proc: the time Node.js started is within milliseconds of it.
    this.startedAt =
      processStartTime(process.pid) ?? Math.round(Date.now() - process.uptime() * 1_000);
  }

  /**
   * Writes one beat. `status` is free text; `error`, `failed`, `unhealthy`, `fatal` or
   * `error: …` tell Vigil the process is failing (`error_status`). Throws when the file cannot be
   * written (a missing permission, a full disk): a process that cannot beat should know.
   */
  beat(status = 'ok'): void {
    if (this.isStopped) return;
    this.seq += 1;
    const beat = {
      name: this.name,
      pid: process.pid,
      startedAt: new Date(this.startedAt).toISOString(),
      at: new Date().toISOString(),
      status,
      seq: this.seq,
    };
    const temporary = `${this.file}.${process.pid}.tmp`;
    mkdirSync(dirname(this.file), { recursive: true });
    writeFileSync(temporary, `${JSON.stringify(beat)}\n`);
    renameSync(temporary, this.file);
  }

  /** Stops beating and removes the file: a process that ends on purpose leaves no heartbeat. */
  stop(): void {
    this.isStopped = true;
    rmSync(this.file, { force: true });
  }
}
