import { describe, expect, it } from 'vitest';
import { logger, metricValue } from '@depthwatch/ops';
import { VenueParseError, type ParseContext, type RestPoll, type TickerMsg } from './adapter.ts';
import { RestPoller, type RestAnswer } from './rest-poller.ts';
import { marketInfo } from '../metadata/index.ts';

/** The poller against a scripted REST endpoint: every request and every answer is explicit. */

const ctx: ParseContext = { recvTs: 0, symbolOf: () => undefined, market: (s) => marketInfo('binance-futures', s) };

const poll: RestPoll = {
  name: 'test_oi',
  fields: ['openInterest'],
  url: (base, vs) => `${base}/oi?symbol=${vs}`,
  intervalMs: 1000,
  weight: 1,
  parse(body, symbol): TickerMsg {
    const m = /^oi:(\d+)$/.exec(body);
    if (!m) throw new VenueParseError(`bad body ${body}`, symbol, 'ticker');
    return { kind: 'ticker', symbol, ts: 1, openInterest: Number(m[1]) };
  },
};


function setup(concurrency = 2) {
  const requests: { url: string; answer: (a: RestAnswer, ts: number) => void }[] = [];
  const delivered: { symbol: string; oi: number | null | undefined; ts: number }[] = [];
  const expired: string[] = [];
  const poller = new RestPoller({
    venue: 'binance-futures',
    polls: [poll],
    targets: [
      { symbol: 'A/USDT:USDT', venueSymbol: 'A' },
      { symbol: 'B/USDT:USDT', venueSymbol: 'B' },
      { symbol: 'C/USDT:USDT', venueSymbol: 'C' },
    ],
    restBase: 'http://x',
    concurrency,
    ctx,
    log: logger('test'),
    get: (url, answer) => requests.push({ url, answer }),
    deliver: (symbol, msg, ts) => delivered.push({ symbol, oi: msg.openInterest, ts }),
    expire: (symbol, fields) => expired.push(`${symbol} ${fields.join(',')}`),
  });
  const answer = (url: string, a: RestAnswer, ts: number) => {
    const i = requests.findIndex((r) => r.url === url);
    expect(i, `request for ${url} pending`).toBeGreaterThanOrEqual(0);
    const [r] = requests.splice(i, 1);
    r.answer(a, ts);
  };
  return { poller, requests, delivered, expired, answer };
}

describe('RestPoller', () => {
  it('keeps at most `concurrency` requests in flight, one per symbol, and polls each symbol every interval', () => {
    const { poller, requests, delivered, answer } = setup(2);
    poller.tick(0);
    expect(requests.map((r) => r.url)).toEqual(['http://x/oi?symbol=A', 'http://x/oi?symbol=B']);
    poller.tick(50); // nothing due that is not in flight, and no free slot
    expect(requests).toHaveLength(2);
    answer('http://x/oi?symbol=A', { ok: true, text: 'oi:7' }, 100);
    // The freed slot goes to the next due symbol at once (an answer is a recorded input too).
    expect(requests.map((r) => r.url)).toEqual(['http://x/oi?symbol=B', 'http://x/oi?symbol=C']);
    expect(delivered).toEqual([{ symbol: 'A/USDT:USDT', oi: 7, ts: 100 }]);
    answer('http://x/oi?symbol=B', { ok: true, text: 'oi:8' }, 120);
    answer('http://x/oi?symbol=C', { ok: true, text: 'oi:9' }, 130);
    expect(requests).toHaveLength(0);
    poller.tick(1099);
    expect(requests).toHaveLength(0);
    poller.tick(1100); // A is due (answered at 100 + 1000), B and C not yet
    expect(requests.map((r) => r.url)).toEqual(['http://x/oi?symbol=A']);
    poller.tick(1125);
    expect(requests.map((r) => r.url)).toEqual(['http://x/oi?symbol=A', 'http://x/oi?symbol=B']);
    expect(poller.counters).toEqual({ requests: 5, failures: 0 });
  });

  it('counts failures by reason, backs off by whole intervals, never delivers a bad answer', async () => {
    const { poller, requests, delivered, answer } = setup(1);
    const http0 = await metricValue('depthwatch_ingest_poll_failures_total', { poll: 'test_oi', reason: 'http' });
    const parse0 = await metricValue('depthwatch_ingest_poll_failures_total', { poll: 'test_oi', reason: 'parse' });
    const sent0 = await metricValue('depthwatch_ingest_poll_requests_total', { poll: 'test_oi' });
    poller.tick(0);
    answer('http://x/oi?symbol=A', { ok: false, text: 'HTTP 503: busy' }, 10);
    answer('http://x/oi?symbol=B', { ok: true, text: '<html>' }, 20);
    answer('http://x/oi?symbol=C', { ok: true, text: 'oi:3' }, 30);
    expect(delivered).toEqual([{ symbol: 'C/USDT:USDT', oi: 3, ts: 30 }]);
    expect(await metricValue('depthwatch_ingest_poll_failures_total', { poll: 'test_oi', reason: 'http' })).toBe(http0 + 1);
    expect(await metricValue('depthwatch_ingest_poll_failures_total', { poll: 'test_oi', reason: 'parse' })).toBe(parse0 + 1);
    expect(await metricValue('depthwatch_ingest_poll_requests_total', { poll: 'test_oi' })).toBe(sent0 + 3);
    // First failure: retry after one interval (A due 1010).
    poller.tick(1009);
    expect(requests).toHaveLength(0);
    poller.tick(1010);
    expect(requests.map((r) => r.url)).toEqual(['http://x/oi?symbol=A']);
    answer('http://x/oi?symbol=A', { ok: false, text: 'HTTP 429' }, 1015);
    // B (due 1020) and C (due 1030) go next; A's second failure waits two intervals (due 3015).
    poller.tick(1030);
    answer('http://x/oi?symbol=B', { ok: true, text: 'oi:2' }, 1031);
    answer('http://x/oi?symbol=C', { ok: true, text: 'oi:3' }, 1032);
    poller.tick(3014);
    expect(requests.map((r) => r.url)).toEqual(['http://x/oi?symbol=B']);
    answer('http://x/oi?symbol=B', { ok: true, text: 'oi:2' }, 3014);
    expect(requests.map((r) => r.url)).toEqual(['http://x/oi?symbol=C']);
    answer('http://x/oi?symbol=C', { ok: true, text: 'oi:3' }, 3014);
    poller.tick(3015);
    expect(requests.map((r) => r.url)).toEqual(['http://x/oi?symbol=A']);
    // Success resets the backoff.
    answer('http://x/oi?symbol=A', { ok: true, text: 'oi:1' }, 3020);
    expect(delivered.at(-1)).toEqual({ symbol: 'A/USDT:USDT', oi: 1, ts: 3020 });
    expect(poller.counters).toEqual({ requests: 9, failures: 3 });
  });

  it('resets a symbol\'s polled fields once its last good answer is older than 3 intervals, once, until it answers again', () => {
    const { poller, requests, expired, answer } = setup(3);
    poller.tick(0);
    for (const s of ['A', 'B', 'C']) answer(`http://x/oi?symbol=${s}`, { ok: true, text: 'oi:5' }, 0);
    // Every 500 ms: tick, then answer whatever was asked (A's answers fail while `aFails`).
    let t = 0;
    const run = (until: number, aFails: boolean, check?: (t: number) => void) => {
      while (t < until) {
        t += 500;
        poller.tick(t);
        for (const r of [...requests]) answer(r.url, aFails && r.url.endsWith('A') ? { ok: false, text: 'HTTP 503' } : { ok: true, text: 'oi:5' }, t);
        check?.(t);
      }
    };
    run(6000, true, (now) => {
      if (now === 3000) expect(expired).toEqual([]); // exactly 3 intervals old: still fine
    });
    expect(expired).toEqual(['A/USDT:USDT openInterest']);
    // A answers again (its backoff is 4 intervals by now), then fails again: reset a second time.
    run(12_000, false);
    expect(expired).toHaveLength(1);
    run(30_000, true);
    expect(expired).toEqual(['A/USDT:USDT openInterest', 'A/USDT:USDT openInterest']);
  });

  it('refuses a non-positive interval', () => {
    expect(
      () =>
        new RestPoller({
          venue: 'binance-futures', polls: [poll], targets: [], restBase: '', intervalMs: { test_oi: 0 }, concurrency: 1, ctx, log: logger('test'),
          get: () => {}, deliver: () => {}, expire: () => {},
        }),
    ).toThrow(/interval must be positive/);
  });
});
