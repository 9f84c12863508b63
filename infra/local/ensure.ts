/**
 * Bring up (or find) the real Kafka broker and ClickHouse server for integration tests.
 *
 *   const brokers = await ensureKafka();        // '127.0.0.1:19092'
 *   const clickhouse = await ensureClickHouse(); // 'http://127.0.0.1:18123'
 *
 * Each function:
 *   1. if DEPTHWATCH_KAFKA / DEPTHWATCH_CLICKHOUSE is set and answers (a Kafka Metadata request /
 *      ClickHouse `/ping`), returns it unchanged;
 *   2. otherwise runs `bash infra/local/<kafka|clickhouse>.sh install` then `… start` (output
 *      captured, not printed), checks the server answers, and returns its address;
 *   3. if that fails, throws an Error whose message starts with what is missing, e.g.
 *      "Kafka: java not found on PATH …" or "ClickHouse: apt-get install clickhouse-server … failed …".
 * It never skips silently. Results are memoized per process; concurrent callers in other
 * processes (vitest workers) are serialized by the scripts' own file locks.
 *
 * Node builtins only; no dependency on kafkajs or @clickhouse/client.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';

const LOCAL_DIR = fileURLToPath(new URL('.', import.meta.url));
const HOST = '127.0.0.1';

/** Default local addresses; the scripts honour the same env overrides. */
export function localKafkaAddress(): string {
  return `${HOST}:${process.env['DEPTHWATCH_KAFKA_PORT'] || '19092'}`;
}
export function localClickHouseUrl(): string {
  return `http://${HOST}:${process.env['DEPTHWATCH_CLICKHOUSE_HTTP_PORT'] || '18123'}`;
}

const INSTALL_TIMEOUT_MS = 15 * 60_000; // apt-get / Maven downloads on a cold machine
const START_TIMEOUT_MS = 3 * 60_000; // scripts bound their own waits to ~60 s

let kafkaPromise: Promise<string> | undefined;
let clickHousePromise: Promise<string> | undefined;

export function ensureKafka(): Promise<string> {
  kafkaPromise ??= doEnsureKafka().catch((err: unknown) => {
    kafkaPromise = undefined; // let a later call retry
    throw err;
  });
  return kafkaPromise;
}

export function ensureClickHouse(): Promise<string> {
  clickHousePromise ??= doEnsureClickHouse().catch((err: unknown) => {
    clickHousePromise = undefined;
    throw err;
  });
  return clickHousePromise;
}

async function doEnsureKafka(): Promise<string> {
  const fromEnv = process.env['DEPTHWATCH_KAFKA']?.trim();
  let envProblem = '';
  if (fromEnv) {
    const problem = await kafkaProblem(fromEnv);
    if (!problem) return fromEnv;
    envProblem = `DEPTHWATCH_KAFKA=${fromEnv} does not answer (${problem}); `;
  }
  await runScript('Kafka', 'kafka.sh', ['install'], INSTALL_TIMEOUT_MS, envProblem);
  await runScript('Kafka', 'kafka.sh', ['start'], START_TIMEOUT_MS, envProblem);
  const address = localKafkaAddress();
  const problem = await kafkaProblem(address);
  if (problem) {
    throw new Error(`Kafka: ${envProblem}infra/local/kafka.sh start succeeded but ${address} does not answer a Metadata request: ${problem}`);
  }
  return address;
}

async function doEnsureClickHouse(): Promise<string> {
  const fromEnv = process.env['DEPTHWATCH_CLICKHOUSE']?.trim().replace(/\/+$/, '');
  let envProblem = '';
  if (fromEnv) {
    const problem = await clickHouseProblem(fromEnv);
    if (!problem) return fromEnv;
    envProblem = `DEPTHWATCH_CLICKHOUSE=${fromEnv} does not answer (${problem}); `;
  }
  await runScript('ClickHouse', 'clickhouse.sh', ['install'], INSTALL_TIMEOUT_MS, envProblem);
  await runScript('ClickHouse', 'clickhouse.sh', ['start'], START_TIMEOUT_MS, envProblem);
  const url = localClickHouseUrl();
  const problem = await clickHouseProblem(url);
  if (problem) {
    throw new Error(`ClickHouse: ${envProblem}infra/local/clickhouse.sh start succeeded but ${url} does not answer: ${problem}`);
  }
  return url;
}

/** Run `bash infra/local/<script> <args>`, capturing output; throw a precise Error on failure. */
function runScript(label: string, script: string, args: string[], timeoutMs: number, prefix: string): Promise<string> {
  const path = `${LOCAL_DIR}${script}`;
  if (!existsSync(path)) {
    return Promise.reject(new Error(`${label}: ${prefix}script ${path} is missing`));
  }
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      [path, ...args],
      { timeout: timeoutMs, killSignal: 'SIGTERM', maxBuffer: 16 * 1024 * 1024, env: process.env },
      (error, stdout, stderr) => {
        if (!error) {
          resolve(stdout);
          return;
        }
        const err = error as NodeJS.ErrnoException & { killed?: boolean; signal?: NodeJS.Signals | null };
        if (err.code === 'ENOENT') {
          reject(new Error(`${label}: ${prefix}bash not found on PATH (needed to run infra/local/${script})`));
          return;
        }
        const command = `bash infra/local/${script} ${args.join(' ')}`;
        // The scripts print "<Label>: <what is missing>" as their error line; lead with it.
        const lines = `${stdout}\n${stderr}`.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '');
        const reason =
          [...lines].reverse().find((l) => l.startsWith(`${label}: `))?.slice(label.length + 2) ??
          (err.killed ? `timed out after ${Math.round(timeoutMs / 1000)} s` : `exited with ${err.signal ?? `code ${String(err.code)}`}`);
        const tail = lines.filter((l) => l !== `${label}: ${reason}`).slice(-25).join('\n');
        reject(new Error(`${label}: ${prefix}${reason}\n(while running: ${command}${tail ? `; output tail:)\n${tail}` : ')'}`));
      },
    );
  });
}

// ---------------------------------------------------------------------------------------------
// Probes (exported for tests that want to check a server without bringing it up)

/** undefined if some broker in `brokers` ('h:p[,h:p…]') answers a Kafka Metadata request, else why not. */
export async function kafkaProblem(brokers: string, timeoutMs = 3000): Promise<string | undefined> {
  const problems: string[] = [];
  for (const broker of brokers.split(',').map((b) => b.trim()).filter((b) => b !== '')) {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(broker);
    if (!m?.[1] || !m[2]) {
      problems.push(`${broker}: not host:port`);
      continue;
    }
    try {
      const count = await kafkaMetadataBrokerCount(m[1], Number(m[2]), timeoutMs);
      if (count > 0) return undefined;
      problems.push(`${broker}: metadata lists no brokers`);
    } catch (e) {
      problems.push(`${broker}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return problems.length > 0 ? problems.join('; ') : 'no broker address given';
}

/**
 * Send one Metadata v4 request (all topics; supported by Kafka 1.0 through 4.x) and return how
 * many brokers the response lists. Raw protocol over node:net so this module has no deps.
 */
function kafkaMetadataBrokerCount(host: string, port: number, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const clientId = Buffer.from('depthwatch-ensure');
    const correlationId = 0x0dea1;
    // header v1: api_key=3 (Metadata), api_version=4, correlation_id, client_id (string)
    // body v4: topics = null (-1 → all), allow_auto_topic_creation = false
    const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4 + 1);
    let o = 0;
    o = body.writeInt16BE(3, o);
    o = body.writeInt16BE(4, o);
    o = body.writeInt32BE(correlationId, o);
    o = body.writeInt16BE(clientId.length, o);
    o += clientId.copy(body, o);
    o = body.writeInt32BE(-1, o);
    body.writeInt8(0, o);
    const frame = Buffer.alloc(4 + body.length);
    frame.writeInt32BE(body.length, 0);
    body.copy(frame, 4);

    const socket = connect({ host, port });
    let received = Buffer.alloc(0);
    const done = (err: Error | undefined, value?: number): void => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value ?? 0);
    };
    const timer = setTimeout(() => done(new Error(`no Metadata response within ${timeoutMs} ms`)), timeoutMs);
    socket.on('connect', () => socket.write(frame));
    socket.on('error', (e: NodeJS.ErrnoException) => done(new Error(e.code ?? e.message)));
    socket.on('close', () => done(new Error('connection closed before a complete Metadata response')));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 4) return;
      const size = received.readInt32BE(0);
      if (size < 0 || size > 64 * 1024 * 1024) {
        done(new Error(`not a Kafka response (size field ${size})`));
        return;
      }
      if (received.length < 4 + size) return;
      // response: correlation_id int32, throttle_time_ms int32, brokers array (int32 count, …)
      if (size < 12 || received.readInt32BE(4) !== correlationId) {
        done(new Error('not a Kafka Metadata response'));
        return;
      }
      done(undefined, received.readInt32BE(12));
    });
  });
}

/** undefined if `url` answers ClickHouse's `/ping` with "Ok." and a trivial query, else why not. */
export async function clickHouseProblem(url: string, timeoutMs = 3000): Promise<string | undefined> {
  const base = url.replace(/\/+$/, '');
  try {
    const ping = await fetch(`${base}/ping`, { signal: AbortSignal.timeout(timeoutMs) });
    const text = (await ping.text()).trim();
    if (text !== 'Ok.') return `GET /ping answered ${ping.status} ${JSON.stringify(text.slice(0, 80))}, not "Ok."`;
    const q = await fetch(`${base}/?query=${encodeURIComponent('SELECT 1')}`, { signal: AbortSignal.timeout(timeoutMs) });
    const one = (await q.text()).trim();
    if (!q.ok || one !== '1') return `SELECT 1 answered ${q.status} ${JSON.stringify(one.slice(0, 200))}`;
    return undefined;
  } catch (e) {
    const cause = e instanceof Error && e.cause instanceof Error ? `: ${(e.cause as NodeJS.ErrnoException).code ?? e.cause.message}` : '';
    return `${e instanceof Error ? e.message : String(e)}${cause}`;
  }
}
