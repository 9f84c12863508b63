/** Parent side of ws-clients.ts: a forked client process driven over IPC. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface WindowStats {
  seconds: number;
  msgsPerSec: number;
  framesPerSec: number;
  fastMsgsPerSec: number;
  slowMsgsPerSec: number;
  open: number;
  slowClosed: number;
  fastClosed: number;
  latencySamples: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

export class ClientsProc {
  private constructor(private readonly child: ChildProcess) {}

  static async start(): Promise<ClientsProc> {
    const child = fork(fileURLToPath(new URL('./ws-clients.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx', '--max-old-space-size=4096'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`client process exited with ${code}`)));
    });
    return new ClientsProc(child);
  }

  private call<T>(msg: object, timeoutMs = 180_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`client process: no answer to ${JSON.stringify(msg)} in ${timeoutMs} ms`)), timeoutMs);
      this.child.once('message', (r: { error?: string } & T) => {
        clearTimeout(t);
        if (r.error) reject(new Error(`client process: ${r.error}`));
        else resolve(r);
      });
      this.child.send(msg);
    });
  }

  connect(url: string, n: number, opts: { slowFraction?: number; latencyEvery?: number; subscribe?: string } = {}): Promise<{ connected: number; ms: number }> {
    return this.call({ cmd: 'connect', url, n, ...opts });
  }

  async window(ms: number): Promise<WindowStats> {
    return (await this.call<{ stats: WindowStats }>({ cmd: 'window', ms })).stats;
  }

  disconnect(): Promise<unknown> {
    return this.call({ cmd: 'disconnect' });
  }

  stop(): void {
    try {
      this.child.send({ cmd: 'exit' });
    } catch {
      /* gone */
    }
    setTimeout(() => this.child.kill('SIGKILL'), 2000).unref();
  }
}
