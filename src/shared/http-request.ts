/** One HTTP request with a timeout and a bounded body, answered as data instead of thrown. */
import { formatDuration } from '../core/duration.js';

export type HttpAnswer =
  { kind: 'answer'; status: number; body: string } | { kind: 'error'; error: string };

export interface HttpRequestOptions {
  method?: string | undefined;
  headers?: Readonly<Record<string, string>> | undefined;
  timeoutMs: number;
  /** Bytes of body read at most; the rest is dropped (a health body is small). */
  maxBodyBytes?: number | undefined;
}

/** 1 MiB: far more than any health or status body, small enough that no answer can swamp Vigil. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/**
 * Sends one request. Network errors, timeouts and unreadable bodies become `{kind: 'error'}` with
 * a sentence naming the cause ("connection refused (ECONNREFUSED)", "timed out after 2s"), so a
 * caller never has to catch.
 */
export async function httpRequest(url: string, options: HttpRequestOptions): Promise<HttpAnswer> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  try {
    const response = await fetch(url, {
      method: options.method ?? 'GET',
      headers: { 'user-agent': 'vigil', ...options.headers },
      signal,
      redirect: 'manual',
    });
    const body = await readBody(response, options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
    return { kind: 'answer', status: response.status, body };
  } catch (error) {
    if (signal.aborted) {
      return { kind: 'error', error: `timed out after ${formatDuration(options.timeoutMs)}` };
    }
    return { kind: 'error', error: describeFetchError(error) };
  }
}

async function readBody(response: Response, maxBytes: number): Promise<string> {
  if (!response.body) return '';
  const reader: ReadableStreamDefaultReader<Uint8Array> = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size >= maxBytes) {
      await reader.cancel();
      break;
    }
  }
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, maxBytes));
}

const CAUSES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EHOSTUNREACH: 'host unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed',
};

function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  const message = typeof cause?.message === 'string' ? cause.message : undefined;
  if (code) return `${CAUSES[code] ?? message ?? 'request failed'} (${code})`;
  if (message) return message;
  return error instanceof Error ? error.message : String(error);
}
