import { describe, expect, it } from 'vitest';
import { VenueParseError, type ParseContext } from '../sync/adapter.ts';
import { marketInfo } from '../metadata/index.ts';
import { binanceFutures, binanceOpenInterest } from './binance-futures.ts';
import { binance } from './binance.ts';

const ctx: ParseContext = {
  recvTs: 1758000000300,
  symbolOf: (vs) => ({ BTCUSDT: 'BTC/USDT:USDT', BNBBTC: 'BNB/BTC' })[vs],
  market: (s) => marketInfo('binance-futures', s),
};

describe('Binance message mapping (venues.md examples)', () => {
  it('forceOrder SELL is a liquidated long, a lower bound, priced at the average fill', () => {
    const [l] = binanceFutures.parse(
      '{"stream":"btcusdt@forceOrder","data":{"e":"forceOrder","E":1758000001000,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC","q":"0.750","p":"114820.0","ap":"114861.3","X":"FILLED","l":"0.750","z":"0.750","T":1758000000998}}}',
      ctx,
    );
    expect(l).toMatchObject({ kind: 'liquidation', symbol: 'BTC/USDT:USDT', liquidatedPosition: 'long', price: 114861.3, amount: 0.75, ts: 1758000000998, completeness: 'lower_bound' });
  });

  it('markPriceUpdate maps mark, index, funding and next funding time', () => {
    const [t] = binanceFutures.parse('{"e":"markPriceUpdate","E":1758000003000,"s":"BTCUSDT","p":"115001.35","i":"114998.87","P":"114990.12","r":"0.00010000","T":1758009600000}', ctx);
    expect(t).toEqual({ kind: 'ticker', symbol: 'BTC/USDT:USDT', ts: 1758000003000, markPrice: 115001.35, indexPrice: 114998.87, fundingRate: 0.0001, nextFundingTime: 1758009600000 });
  });

  it('aggTrade m=true means the taker sold; unknown fields ignored', () => {
    const [t] = binanceFutures.parse('{"e":"aggTrade","E":1758000000200,"s":"BTCUSDT","a":2125892846,"p":"115000.20","q":"0.052","nq":"0.052","f":4867106679,"l":4867106681,"T":1758000000195,"m":true}', ctx);
    expect(t).toMatchObject({ kind: 'trade', id: '2125892846', price: 115000.2, amount: 0.052, side: 'sell', ts: 1758000000195 });
  });

  it('spot depthUpdate has no pu; unknown symbols are ignored; bad numbers throw with the symbol', () => {
    const [d] = binance.parse('{"e":"depthUpdate","E":1758000000100,"s":"BNBBTC","U":157,"u":160,"b":[["0.0024","10"]],"a":[["0.0026","0"]]}', ctx);
    expect(d).toMatchObject({ kind: 'book_diff', symbol: 'BNB/BTC', first: 157, last: 160, prev: null, bids: [[0.0024, 10]], asks: [[0.0026, 0]] });
    expect(binance.parse('{"e":"depthUpdate","E":1,"s":"ETHBTC","U":1,"u":2,"b":[],"a":[]}', ctx)).toEqual([]);
    expect(() => binance.parse('{"e":"depthUpdate","E":1,"s":"BNBBTC","U":1,"u":2,"b":[["x","1"]],"a":[]}', ctx)).toThrow(/price/);
    expect(binance.identify('{"stream":"bnbbtc@depth@100ms","data":{"e":"dep')).toEqual({ venueSymbol: 'BNBBTC', channel: 'book' });
    expect(binance.parse('{"e":"serverShutdown","E":1}', ctx)).toEqual([{ kind: 'control', action: 'reconnect', detail: 'serverShutdown' }]);
  });

  it('routes USD-M depth to /public and the rest to /market, batching stream names in the URL', () => {
    const streams = binanceFutures.streams('BTC/USDT:USDT', 'BTCUSDT');
    expect(streams.map((s) => `${s.route} ${s.name}`)).toEqual([
      '/public/stream btcusdt@depth@100ms',
      '/market/stream btcusdt@aggTrade',
      '/market/stream btcusdt@forceOrder',
      '/market/stream btcusdt@markPrice@1s',
    ]);
    expect(binanceFutures.connectUrl('wss://fstream.binance.com', '/market/stream', streams.slice(1))).toBe(
      'wss://fstream.binance.com/market/stream?streams=btcusdt@aggTrade/btcusdt@forceOrder/btcusdt@markPrice@1s',
    );
    expect(binanceFutures.restSnapshot!.url('https://fapi.binance.com', 'BTCUSDT')).toBe('https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=1000');
    expect(binance.restSnapshot!.url('https://api.binance.com/', 'BTCUSDT')).toBe('https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=5000');
  });

  it('polls open interest over REST (weight 1): answer → ticker openInterest in base at the transaction time', () => {
    expect(binanceFutures.polls).toEqual([binanceOpenInterest]);
    expect(binanceOpenInterest.url('https://fapi.binance.com/', 'BTCUSDT')).toBe('https://fapi.binance.com/fapi/v1/openInterest?symbol=BTCUSDT');
    expect(binanceOpenInterest.fields).toEqual(['openInterest']);
    expect(binanceOpenInterest.weight).toBe(1);
    // The documented example answer.
    const t = binanceOpenInterest.parse('{"openInterest":"10659.509","symbol":"BTCUSDT","time":1589437530011}', 'BTC/USDT:USDT', ctx);
    expect(t).toEqual({ kind: 'ticker', symbol: 'BTC/USDT:USDT', ts: 1589437530011, openInterest: 10659.509 });
  });

  it('rejects unusable open-interest answers with a VenueParseError naming the symbol and the ticker channel', () => {
    const bad: [string, RegExp][] = [
      ['<html>502 Bad Gateway</html>', /not JSON/],
      ['{"code":-1121,"msg":"Invalid symbol."}', /error -1121: Invalid symbol/],
      ['[1,2]', /not an object/],
      ['{"openInterest":"10.5","symbol":"ETHUSDT","time":1589437530011}', /answer is for ETHUSDT/],
      ['{"symbol":"BTCUSDT","time":1589437530011}', /openInterest: not a number/],
      ['{"openInterest":"abc","symbol":"BTCUSDT","time":1589437530011}', /openInterest: not a number/],
      ['{"openInterest":"-1","symbol":"BTCUSDT","time":1589437530011}', /negative/],
      ['{"openInterest":"1","symbol":"BTCUSDT","time":-5}', /time: time out of range/],
      ['{"openInterest":"1","time":1589437530011}', /symbol: not a string/],
    ];
    for (const [body, why] of bad) {
      let err: unknown = null;
      try {
        binanceOpenInterest.parse(body, 'BTC/USDT:USDT', ctx);
      } catch (e) {
        err = e;
      }
      expect(err, body).toBeInstanceOf(VenueParseError);
      expect((err as Error).message, body).toMatch(why);
      expect(err, body).toMatchObject({ symbol: 'BTC/USDT:USDT', channel: 'ticker' });
    }
  });
});
