import { VENUES } from '../../venues/index.ts';
const cases: Record<string, string> = {
  binanceRaw: '"e":"trade"'.repeat(20000),
  binanceRaw2: '{"e":"depthUpdate",' + ' '.repeat(200000),
  hl: '"channel":"l2Book"'.repeat(20000),
  kraken: '"channel":"book"' + '"symbol":"AAAAAAAAAAAAAAAAAAAAAAAAAA'.repeat(10000),
  coinbase: '"channel":"l2_data"' + '"product_id":"AAAAAAAAAAAAAAAAAAAAA'.repeat(10000),
  bitmex: '"table":"trade"' + '"symbol":"'.repeat(20000),
  okx: '"arg":{"channel":"books","instId":"'.repeat(10000),
  deribit: '"channel":"book.'.repeat(20000),
  bybit: '"topic":"orderbook.'.repeat(20000),
};
for (const [name, text] of Object.entries(cases)) for (const [v, a] of Object.entries(VENUES)) {
  const t0 = performance.now(); a!.identify(text); const dt = performance.now() - t0;
  if (dt > 20) console.log(name, v, text.length, dt.toFixed(0), 'ms');
}
console.log('done');
