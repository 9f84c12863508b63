import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A `depthwatch` subcommand in its own OS process, as an operator would run it. */
export interface StageProcess {
  name: string;
  child: ChildProcess;
  output: string[];
  /** Resolves with the first stdout/stderr line matching `pattern`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function startStage(name: string, args: string[], env: NodeJS.ProcessEnv = {}): StageProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/src/main.ts'), ...args], {
    cwd: ROOT,
    // Only what the stage needs: a DEPTHWATCH_* variable from the test runner must not leak into it.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DEPTHWATCH_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const onData = (chunk: Buffer): void => {
    for (const line of chunk.toString().split('\n')) {
      if (!line) continue;
      output.push(line);
      if (output.length > 2000) output.shift();
      for (const w of [...waiters]) {
        const m = line.match(w.pattern);
        if (m) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    name,
    child,
    output,
    waitFor(pattern, timeoutMs = 60_000) {
      for (const line of output) {
        const m = line.match(pattern);
        if (m) return Promise.resolve(m);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name}: no output matching ${pattern} within ${timeoutMs} ms; last lines:\n${output.slice(-20).join('\n')}`)), timeoutMs);
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`${name} exited (code ${code}) before printing ${pattern}; last lines:\n${output.slice(-20).join('\n')}`));
        });
        waiters.push({ pattern, resolve: (m) => (clearTimeout(timer), resolve(m)) });
      });
    },
    async kill(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
