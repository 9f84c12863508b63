/**
 * Measures the producer codec choice on the real broker: throughput (publish → flush acked),
 * producer CPU, and bytes the broker stores, for our JSON events at our batch sizes.
 *
 *   npx tsx bus/src/kafka-compression-bench.ts [messagesPerCase=40000]
 *
 * Bytes are read from the broker's log segments (infra/local/.state/kafka/data), so run it on the
 * machine that runs the local broker.
 */
import { readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BAND_PCTS, CAPACITY_BPS, SLIPPAGE_NOTIONALS, type Topic, type TopicEvents } from '@depthwatch/schemas';
import { ensureKafka } from '../../infra/local/ensure.ts';
import { KafkaBus } from './kafka-bus.ts';

const N = Number(process.argv[2] ?? 40_000);
const DATA = fileURLToPath(new URL('../../infra/local/.state/kafka/data', import.meta.url));
const SYMBOLS = ['BTC/USDT:USDT', 'ETH/USDT:USDT', 'SOL/USDT:USDT', 'XRP/USDT:USDT', 'DOGE/USDT:USDT', 'BNB/USDT:USDT'];

function event(topic: Topic, i: number): TopicEvents[Topic] {
  const symbol = SYMBOLS[i % SYMBOLS.length];
  const h = { venue: 'binance-futures' as const, symbol, ts: 1_767_225_600_000 + i, recvTs: 1_767_225_600_004 + i, seq: i };
  const px = 60_000 + Math.round(Math.sin(i / 50) * 1000 * 10) / 10;
  if (topic === 'md.trade') return { type: 'trade', ...h, id: String(4_000_000_000 + i), price: px, amount: Math.round(Math.random() * 1000) / 1000, side: i % 3 ? 'buy' : 'sell', liquidation: false };
  if (topic === 'md.book') {
    const lv = (side: number) => Array.from({ length: 1 + (i % 8) }, (_, k) => [px + side * (k + 1) * 0.1, Math.round(Math.random() * 5000) / 1000] as [number, number]);
    return { type: 'book_delta', ...h, bids: lv(-1), asks: lv(1) };
  }
  return {
    type: 'depth', venue: h.venue, symbol, ts: h.ts, seq: i, bestBid: px - 0.1, bestAsk: px, mid: px - 0.05, microprice: px - 0.04, spreadBps: 0.0166, imbalance: Math.random() * 2 - 1,
    bidLevels: 1000, askLevels: 1000,
    bands: BAND_PCTS.map((pct) => ({ pct, bidBase: Math.random() * 100 * pct, askBase: Math.random() * 100 * pct, bidQuote: Math.random() * 6e6 * pct, askQuote: Math.random() * 6e6 * pct, bidTruncated: pct >= 5, askTruncated: pct >= 5 })),
    slippage: SLIPPAGE_NOTIONALS.map((notional) => ({ notional, buyBps: Math.random() * 10, sellBps: Math.random() * 10 })),
    capacity: CAPACITY_BPS.map((bps) => ({ bps, buyQuote: Math.random() * 1e7, sellQuote: Math.random() * 1e7 })),
  };
}

function dirBytes(prefix: string, topic: Topic): number {
  let total = 0;
  for (const d of readdirSync(DATA)) {
    if (!d.startsWith(`${prefix}${topic}-`)) continue;
    for (const f of readdirSync(`${DATA}/${d}`)) if (f.endsWith('.log')) total += statSync(`${DATA}/${d}/${f}`).size;
  }
  return total;
}

const brokers = [await ensureKafka()];
const rows: string[] = [];
for (const topic of ['md.trade', 'md.book', 'out.depth'] as Topic[]) {
  const events = Array.from({ length: N }, (_, i) => event(topic, i));
  for (const compression of ['none', 'gzip'] as const) {
    const prefix = `bench${Date.now().toString(36)}${compression}.`;
    const bus = await KafkaBus.connect({ brokers, clientId: 'bench', topicPrefix: prefix, compression, lagPollMs: 0 });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) bus.publish(topic, `binance-futures:${SYMBOLS[i % SYMBOLS.length]}`, events[i]);
    await bus.flush();
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    await bus.close();
    await new Promise((r) => setTimeout(r, 200));
    const bytes = dirBytes(prefix, topic);
    rows.push(
      `${topic.padEnd(10)} ${compression.padEnd(5)} ${String(Math.round(N / (ms / 1000))).padStart(8)} msg/s  ${(((cpu.user + cpu.system) / 1000 / N) * 1000).toFixed(1).padStart(6)} µs CPU/msg  ${(bytes / N).toFixed(0).padStart(5)} B/msg on broker`,
    );
    console.log(rows[rows.length - 1]);
  }
}
