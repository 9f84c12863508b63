import WebSocket from 'ws';

export type Message = Record<string, unknown>;

/** A stream client that unwraps the gateway's {"cseq","msgs"} frames and checks cseq continuity. */
export interface StreamClient {
  ws: WebSocket;
  messages: Message[];
  gaps: number;
  /** Resolves when the socket is closed (by either side, or the server process dying). */
  closed: Promise<void>;
  send(request: object): void;
  next(predicate: (m: Message) => boolean, timeoutMs?: number): Promise<Message>;
  close(): void;
}

export async function connectStream(url: string): Promise<StreamClient> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const messages: Message[] = [];
  const waiters: { predicate: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  const client: StreamClient = {
    ws,
    messages,
    gaps: 0,
    closed: new Promise<void>((resolve) => ws.once('close', () => resolve())),
    send: (request) => ws.send(JSON.stringify(request)),
    next(predicate, timeoutMs = 30_000) {
      const found = messages.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching message within ${timeoutMs} ms; received types: ${[...new Set(messages.map((m) => m.type))].join(', ') || 'none'}`)),
          timeoutMs,
        );
        waiters.push({ predicate, resolve: (m) => (clearTimeout(timer), resolve(m)) });
      });
    },
    close: () => ws.close(),
  };
  let expected = 1;
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as { cseq: number; msgs: Message[] };
    if (frame.cseq !== expected) client.gaps++;
    expected = frame.cseq + frame.msgs.length;
    for (const m of frame.msgs) {
      messages.push(m);
      for (const w of [...waiters]) {
        if (w.predicate(m)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    }
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return client;
}

/** What a client does after losing its gateway: reconnect with backoff until the server answers. */
export async function reconnectStream(url: string, timeoutMs = 60_000): Promise<{ client: StreamClient; attempts: number }> {
  const deadline = Date.now() + timeoutMs;
  for (let attempts = 1; ; attempts++) {
    try {
      return { client: await connectStream(url), attempts };
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`no gateway at ${url} after ${attempts} attempts: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, Math.min(1_000, 50 * 2 ** attempts)));
    }
  }
}
