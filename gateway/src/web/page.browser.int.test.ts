import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryBus } from '@depthwatch/bus';
import type { VenueId } from '@depthwatch/schemas';
import { startGateway, type Gateway } from '../index.ts';
import { alertEvent, depthEvent, liquidationEvent, statusEvent } from '../testing.ts';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = join(process.cwd(), 'test-results', 'page.png');
const BTC = 'BTC/USDT:USDT';
const STREAMS: [VenueId, string, number][] = [
  ['binance-futures', BTC, 60_000],
  ['bybit', BTC, 60_004],
  ['okx', BTC, 59_997],
  ['coinbase', 'BTC/USD', 60_010],
];

let gw: Gateway | null = null;
let context: BrowserContext | null = null;
let profile: string | null = null;
let timer: NodeJS.Timeout | null = null;

afterAll(async () => {
  if (timer) clearInterval(timer);
  await context?.close();
  await gw?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

describe('live web page', () => {
  it('shows updating numbers, the liquidation tape, feed status and an alert with evidence', async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install Chromium (apt-get install -y chromium) to run the browser test`);
    }
    const bus = new MemoryBus();
    gw = await startGateway({ bus, port: 0 });
    // Synthetic market: a slow drift with noise, depth thinning, a liquidation now and then.
    let seq = 0;
    const publish = () => {
      seq++;
      for (const [i, [venue, symbol, base]] of STREAMS.entries()) {
        const mid = base - seq * 1.5 + Math.sin(seq / 3 + i) * 8;
        bus.publish('out.depth', `${venue}:${symbol}`, depthEvent(venue, symbol, mid, seq, { depthScale: 40 * (1 + 0.3 * Math.sin(seq / 5 + i)), spreadBps: 0.6 + 0.4 * Math.abs(Math.sin(seq / 4 + i)) }));
        if (seq % 10 === 0) bus.publish('md.status', `${venue}:${symbol}`, statusEvent(venue, symbol, seq, venue === 'okx' && seq % 40 === 0 ? 'resyncing' : 'synced'));
      }
      if (seq % 5 === 0) {
        bus.publish('out.depth', '*:BTC', {
          type: 'asset_depth', venue: '*', symbol: '*', asset: 'BTC', ts: Date.now(), seq, venues: ['binance-futures', 'bybit', 'coinbase', 'okx'],
          depth2PctBidQuote: 12_500_000, depth2PctAskQuote: 9_000_000, depth2PctBidBaseline: 25_000_000, depth2PctAskBaseline: 9_000_000,
          depthTruncated: false, liquidations: [], lowerBoundVenues: [], capacity: [],
        });
      }
      if (seq % 4 === 0) bus.publish('md.liquidation', BTC, liquidationEvent(seq % 8 === 0 ? 'bybit' : 'binance-futures', BTC, seq, 50_000 + (seq % 13) * 90_000));
    };
    for (let i = 0; i < 30; i++) publish();
    timer = setInterval(publish, 100);

    profile = mkdtempSync(join(tmpdir(), 'depthwatch-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1400, height: 1000 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`${gw.url}/?asset=BTC`);

    await page.waitForFunction(() => document.querySelector('#conn')?.textContent === 'live', null, { timeout: 10_000 });
    await page.waitForFunction(() => document.querySelectorAll('#streams tbody tr').length === 4, null, { timeout: 10_000 });
    const read = () => page.$eval('#summary-mid', (e) => e.textContent ?? '');
    const first = await read();
    expect(first).toMatch(/^\d{2},\d{3}\.\d{2}$/);
    await page.waitForFunction((prev) => document.querySelector('#summary-mid')?.textContent !== prev, first, { timeout: 5000 });
    expect(await read()).not.toBe(first);
    expect(await page.$eval('#summary-bid', (e) => e.textContent)).toMatch(/^\$[\d.]+[kM]$/);
    expect(await page.$$eval('#streams tbody tr td:first-child', (tds) => tds.map((t) => t.textContent))).toEqual(['binance-futures', 'bybit', 'coinbase', 'okx']);

    // The engine's cross-venue aggregate: one line, vs baseline.
    await page.waitForFunction(() => document.querySelector('#summary-asset')?.textContent !== '—', null, { timeout: 5000 });
    expect(await page.$eval('#summary-asset', (e) => e.textContent)).toBe('$12.50M / $9.00M');
    expect(await page.$eval('#summary-asset-base', (e) => e.textContent)).toBe('vs baseline 0.50× / 1.00× · 4 venues');

    await page.waitForFunction(() => document.querySelectorAll('#liqs tbody tr').length > 3, null, { timeout: 5000 });
    await page.waitForFunction(() => document.querySelectorAll('#feeds .feed').length === 4, null, { timeout: 5000 });

    // An alert appears with its evidence.
    expect(await page.$$('#alerts .alert')).toHaveLength(0);
    bus.publish('out.alert', 'BTC', alertEvent('cascade-1'));
    await page.waitForSelector('#alerts .alert.critical[data-alert="cascade-1"]', { timeout: 5000 });
    const alertText = await page.$eval('#alerts .alert', (e) => e.textContent ?? '');
    expect(alertText).toContain('Long liquidation cascade');
    expect(alertText).toContain('$12.50M');
    expect(alertText).toContain('binance-futures, bybit');

    // The chart has data drawn: some non-background pixels in the depth panel.
    await page.waitForTimeout(1200);
    const painted = await page.$eval('#chart', (c) => {
      const canvas = c as HTMLCanvasElement;
      const ctx = canvas.getContext('2d')!;
      const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
      return n;
    });
    expect(painted).toBeGreaterThan(5000);

    mkdirSync(join(process.cwd(), 'test-results'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
    expect(errors).toEqual([]);
  }, 60_000);
});
