import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus } from '@depthwatch/bus';
import { startGateway, type Gateway } from './index.ts';
import { streamUrl, tail } from './tail.ts';
import { depthEvent, liquidationEvent, sleep } from './testing.ts';

const BTC = 'BTC/USDT:USDT';
let gw: Gateway | null = null;
afterEach(async () => {
  await gw?.close();
  gw = null;
});

async function collect(out: PassThrough, until: (text: string) => boolean, timeoutMs = 3000): Promise<string> {
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  const deadline = Date.now() + timeoutMs;
  while (!until(text)) {
    if (Date.now() > deadline) throw new Error(`tail output so far:\n${text}`);
    await sleep(20);
  }
  return text;
}

describe('tail', () => {
  it('maps gateway URLs to the stream endpoint', () => {
    expect(streamUrl('http://127.0.0.1:8080')).toBe('ws://127.0.0.1:8080/v1/stream');
    expect(streamUrl('https://gw.example/')).toBe('wss://gw.example/v1/stream');
    expect(streamUrl('ws://h:1/v1/stream')).toBe('ws://h:1/v1/stream');
  });

  it('prints one readable line per depth update and a liquidation tape, and stops on abort', async () => {
    const bus = new MemoryBus();
    gw = await startGateway({ bus, port: 0 });
    const out = new PassThrough();
    const ac = new AbortController();
    const done = tail({ url: gw.url, channel: 'depth', symbol: BTC, out, signal: ac.signal });
    const text = collect(out, (t) => t.includes('okx'));
    await sleep(100);
    bus.publish('out.depth', BTC, depthEvent('okx', BTC, 60_010, 1, { spreadBps: 1.5 }));
    const printed = await text;
    expect(printed).toMatch(/# subscribed to depth \* BTC\/USDT:USDT/);
    expect(printed).toMatch(/okx\s+BTC\/USDT:USDT\s+mid\s+60010\.00\s+spread\s+1\.50bp\s+2% bid \$\s*1\.20M ask \$\s*1\.08M\s+imb \+0\.05/);
    ac.abort();
    await done;

    const out2 = new PassThrough();
    const ac2 = new AbortController();
    const done2 = tail({ url: gw.url, channel: 'liq', out: out2, signal: ac2.signal });
    const text2 = collect(out2, (t) => t.includes('LIQ'));
    await sleep(100);
    bus.publish('md.liquidation', BTC, liquidationEvent('bybit', BTC, 1, 2_500_000));
    expect(await text2).toMatch(/bybit\s+BTC\/USDT:USDT\s+LIQ LONG\s+\$\s*2\.50M/);
    ac2.abort();
    await done2;
  });

  it('rejects unknown channels and refused connections with clear messages', async () => {
    gw = await startGateway({ bus: new MemoryBus(), port: 0, config: { apiKeys: [{ name: 'k', key: 'k-secret-123' }] } });
    await expect(tail({ url: gw.url, channel: 'orders' })).rejects.toThrow(/unknown channel "orders"/);
    await expect(tail({ url: gw.url, channel: 'depth', out: new PassThrough() })).rejects.toThrow(/HTTP 401.*API key/);
  });
});
