import { describe, expect, it } from 'vitest';
import { assetOf, ccxtExchangeId, isCcxtVenueId, isNativeVenueId, isVenueId, parseEvent, parseSymbol, serializeEvent, validateEvent, type AssetDepth, type BookDelta, type Liquidation } from './index.ts';

const delta: BookDelta = {
  type: 'book_delta', venue: 'binance-futures', symbol: 'BTC/USDT:USDT', ts: 1, recvTs: 2, seq: 3,
  bids: [[100.5, 2]], asks: [[101, 0]],
};

describe('schemas', () => {
  it('round-trips an event through the compiled serializer and validator', () => {
    const text = serializeEvent(delta);
    expect(JSON.parse(text)).toEqual(delta);
    expect(parseEvent(text)).toEqual(delta);
  });

  it('round-trips a cross-venue asset_depth event and allows it on out.depth only', () => {
    const ev: AssetDepth = {
      type: 'asset_depth', venue: '*', symbol: '*', asset: 'BTC', ts: 1_700_000_001_000, seq: 7,
      venues: ['binance-futures', 'okx'], depth2PctBidQuote: 1.5e7, depth2PctAskQuote: 1.25e7,
      depth2PctBidBaseline: 2e7, depth2PctAskBaseline: null, depthTruncated: true,
      liquidations: [{ windowSec: 10, longNotional: 125_000.5, shortNotional: 0, longCount: 3, shortCount: 0, longLargest: 100_000, shortLargest: 0 }],
      lowerBoundVenues: ['binance-futures'],
      capacity: [{ bps: 10, buyQuote: 1e6, sellQuote: 2e6 }],
    };
    const text = serializeEvent(ev);
    expect(JSON.parse(text)).toEqual(ev);
    expect(parseEvent(text)).toEqual(ev);
    expect(validateEvent(ev, ['depth', 'asset_depth'])).toEqual(ev);
    expect(() => validateEvent(ev, ['alert'])).toThrow(/not allowed/);
    expect(() => validateEvent({ ...ev, venue: 'okx' })).toThrow(/venue/);
    expect(() => validateEvent({ ...ev, depth2PctAskBaseline: 'x' })).toThrow(/depth2PctAskBaseline/);
    expect(() => validateEvent({ ...ev, liquidations: [{ windowSec: 10 }] })).toThrow(/liquidations/);
  });

  it('rejects wrong types with a message naming the field', () => {
    expect(() => validateEvent({ ...delta, seq: 'x' })).toThrow(/seq/);
    expect(() => validateEvent({ ...delta, venue: 'nowhere' })).toThrow(/venue/);
    expect(() => validateEvent({ ...delta, bids: [[1]] })).toThrow(/bids/);
    expect(() => parseEvent('{"type":')).toThrow(/malformed JSON/);
    expect(() => validateEvent({ type: 'nope' })).toThrow(/unknown event type/);
    expect(() => validateEvent({ ...delta, bids: [[NaN, 1]] })).toThrow(/bids\/0\/0 must be number/);
  });

  it('rejects an event kind not allowed on a topic', () => {
    const liq: Liquidation = {
      type: 'liquidation', venue: 'bybit', symbol: 'ETH/USDT:USDT', ts: 1, recvTs: 1, seq: 1, id: 'a',
      liquidatedPosition: 'long', price: 2000, amount: 1.5, notional: 3000, completeness: 'complete',
    };
    expect(validateEvent(liq, ['liquidation'])).toEqual(liq);
    expect(() => validateEvent(liq, ['trade'])).toThrow(/not allowed/);
  });

  it('accepts native venue ids and ccxt:<exchange id>, nothing else', () => {
    for (const ok of ['binance-futures', 'okx', 'ccxt:gate', 'ccxt:kucoinfutures', 'ccxt:p2b']) expect(isVenueId(ok), ok).toBe(true);
    for (const bad of ['nasdaq', 'ccxt:', 'ccxt:g', 'ccxt:Gate', 'ccxt:gate.io', "ccxt:gate' OR 1=1 --", 'ccxt:gate ', 'ccxt:' + 'a'.repeat(33), 'CCXT:gate', 'ccxt:gate:x', 'gate', 42, null]) {
      expect(isVenueId(bad), String(bad)).toBe(false);
    }
    expect(isNativeVenueId('ccxt:gate')).toBe(false);
    expect(isCcxtVenueId('bybit')).toBe(false);
    expect(ccxtExchangeId('ccxt:kucoin')).toBe('kucoin');
    // The JSON schema pattern agrees with the type guard.
    expect(validateEvent({ ...delta, venue: 'ccxt:gate' })).toEqual({ ...delta, venue: 'ccxt:gate' });
    expect(parseEvent(serializeEvent({ ...delta, venue: 'ccxt:gate' }))).toEqual({ ...delta, venue: 'ccxt:gate' });
    for (const bad of ['ccxt:Gate', 'ccxt:gate;', 'xbinance-futures', 'binance-futuresx']) expect(() => validateEvent({ ...delta, venue: bad }), bad).toThrow(/venue/);
  });

  it('parses unified symbols', () => {
    expect(parseSymbol('BTC/USD:BTC')).toEqual({ base: 'BTC', quote: 'USD', settle: 'BTC', expiry: null });
    expect(parseSymbol('BTC/USDT')).toEqual({ base: 'BTC', quote: 'USDT', settle: null, expiry: null });
    expect(parseSymbol('btc-usdt')).toBeNull();
    expect(assetOf('ETH/USDT:USDT')).toBe('ETH');
  });
});
