import { describe, expect, it } from 'vitest';
import { assetOf, parseEvent, parseSymbol, serializeEvent, validateEvent, type BookDelta, type Liquidation } from './index.ts';

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

  it('parses unified symbols', () => {
    expect(parseSymbol('BTC/USD:BTC')).toEqual({ base: 'BTC', quote: 'USD', settle: 'BTC', expiry: null });
    expect(parseSymbol('BTC/USDT')).toEqual({ base: 'BTC', quote: 'USDT', settle: null, expiry: null });
    expect(parseSymbol('btc-usdt')).toBeNull();
    expect(assetOf('ETH/USDT:USDT')).toBe('ETH');
  });
});
