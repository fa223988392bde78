/** Parsing of the server-sent event stream; pure, so it is tested without a browser. */

export interface StreamEvent {
  type: string;
  data: Record<string, unknown>;
}

/** One SSE block; comments (keepalives) and blocks without data are skipped. */
export function parseBlock(block: string): StreamEvent | null {
  let type = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) type = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  if (data.length === 0) return null;
  try {
    return { type, data: JSON.parse(data.join('\n')) as Record<string, unknown> };
  } catch {
    return null;
  }
}
