/**
 * The OwnerClient for owners (agents) that expose a registry of what they run and a stop endpoint
 * over HTTP. One registry request per owner per `observe` (a sweep page), all owners in parallel,
 * each with its own timeout. An owner that cannot be asked is `unknown`, never `absent`: a network
 * blip must never look like every execution vanished.
 */
import type { TerminationOutcome } from '../core/decide.js';
import type { Execution, OwnerObservation } from '../core/types.js';
import type { OwnerClient, RegistryAnswer } from '../ports/owner-client.js';
import { httpRequest } from '../shared/http-request.js';
import type { OwnerAgents, RegistrySpec } from './config.js';
import { agentFor, fillTemplate } from './config.js';
import { readIds } from './registry-path.js';

/** What one registry request gave: the ids it runs (and finished recently), or why not. */
type Listing =
  | { kind: 'listed'; running: ReadonlySet<string>; recent: ReadonlySet<string> }
  | { kind: 'unknown'; cause: string };

export class HttpOwnerClient implements OwnerClient {
  private readonly answers = new Map<string, RegistryAnswer>();

  constructor(private readonly agents: OwnerAgents) {}

  async observe(
    executions: readonly Execution[],
    now: number,
  ): Promise<(e: Execution) => OwnerObservation> {
    const asked = new Map<string, RegistrySpec>();
    for (const { owner } of executions) {
      const registry = agentFor(this.agents, owner)?.registry;
      if (owner !== null && registry && !asked.has(owner)) asked.set(owner, registry);
    }
    const listings = new Map(
      await Promise.all(
        [...asked].map(async ([owner, spec]) => [owner, await listRegistry(owner, spec)] as const),
      ),
    );
    for (const [owner, listing] of listings) {
      this.answers.set(
        owner,
        listing.kind === 'listed'
          ? { kind: 'listed', at: now, listed: listing.running.size }
          : { kind: 'unknown', at: now, cause: listing.cause },
      );
    }
    return (execution) => {
      const listing = execution.owner === null ? undefined : listings.get(execution.owner);
      // No registry for this owner: the ledger alone decides (limits and heartbeats).
      if (!listing) return { kind: 'untracked' };
      if (listing.kind === 'unknown') return { kind: 'unknown', cause: listing.cause };
      if (listing.running.has(execution.id)) return { kind: 'present' };
      if (listing.recent.has(execution.id)) return { kind: 'recently_completed' };
      return { kind: 'absent' };
    };
  }

  answered(owner: string): RegistryAnswer | undefined {
    return this.answers.get(owner);
  }

  canTerminate(execution: Execution): boolean {
    return agentFor(this.agents, execution.owner)?.terminate != null;
  }

  async terminate(execution: Execution): Promise<TerminationOutcome> {
    const spec = agentFor(this.agents, execution.owner)?.terminate;
    if (!spec) return { kind: 'failed', cause: 'owner offers no way to terminate' };
    const url = fillTemplate(spec.url, { owner: execution.owner ?? '', id: execution.id });
    const answer = await httpRequest(url, {
      method: spec.method,
      headers: spec.headers,
      timeoutMs: spec.timeoutMs,
      maxBodyBytes: 64 * 1024,
    });
    const where = `${spec.method} ${url}`;
    if (answer.kind === 'error') return { kind: 'failed', cause: `${where}: ${answer.error}` };
    return terminationOutcome(answer.status, answer.body, where);
  }
}

/**
 * Maps a stop endpoint's answer. "Already finished" (404, 410, or a body saying so) is its own
 * outcome, never "terminated": the audit must not claim Vigil stopped work that had ended.
 */
export function terminationOutcome(
  status: number,
  body: string,
  where: string,
): TerminationOutcome {
  if (status === 404 || status === 410) return { kind: 'already_finished' };
  if ((status >= 200 && status < 300) || status === 409) {
    if (saysAlreadyFinished(body)) return { kind: 'already_finished' };
    if (status !== 409) return { kind: 'terminated' };
  }
  return { kind: 'failed', cause: `${where}: HTTP ${status}${snippet(body)}` };
}

const FINISHED_WORDS = new Set(['already_finished', 'finished', 'completed', 'not_running']);

/**
 * A JSON body that says the work was over before the request: `{"alreadyFinished": true}`, or a
 * `status`, `state` or `result` of "already_finished", "finished", "completed" or "not_running".
 */
function saysAlreadyFinished(body: string): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return false;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return false;
  const fields = parsed as Record<string, unknown>;
  if (fields.alreadyFinished === true) return true;
  return ['status', 'state', 'result'].some((key) => {
    const value = fields[key];
    return typeof value === 'string' && FINISHED_WORDS.has(value.toLowerCase());
  });
}

async function listRegistry(owner: string, spec: RegistrySpec): Promise<Listing> {
  const url = fillTemplate(spec.url, { owner });
  const answer = await httpRequest(url, { headers: spec.headers, timeoutMs: spec.timeoutMs });
  if (answer.kind === 'error') return { kind: 'unknown', cause: `${url}: ${answer.error}` };
  if (answer.status < 200 || answer.status >= 300) {
    return { kind: 'unknown', cause: `${url}: HTTP ${answer.status}${snippet(answer.body)}` };
  }
  let document: unknown;
  try {
    document = JSON.parse(answer.body);
  } catch {
    return { kind: 'unknown', cause: `${url}: malformed JSON${snippet(answer.body)}` };
  }
  const running = readIds(document, spec.ids);
  if (!running.ok) return { kind: 'unknown', cause: `${url}: ${running.error}` };
  let recent: string[] = [];
  if (spec.recentlyCompleted) {
    const read = readIds(document, spec.recentlyCompleted);
    if (!read.ok) return { kind: 'unknown', cause: `${url}: ${read.error}` };
    recent = read.ids;
  }
  return { kind: 'listed', running: new Set(running.ids), recent: new Set(recent) };
}

/** The start of a body, for a cause that shows what the owner said. */
function snippet(body: string): string {
  const text = body.trim().replaceAll(/\s+/g, ' ');
  if (text === '') return '';
  return `: ${text.length > 120 ? `${text.slice(0, 120)}…` : text}`;
}

/** The HTTP OwnerClient when any owner has a registry or a stop endpoint; else none. */
export function httpOwners(agents: OwnerAgents): HttpOwnerClient | undefined {
  return Object.keys(agents.named).length > 0 || agents.any
    ? new HttpOwnerClient(agents)
    : undefined;
}
