/**
 * Regenerates ingest/src/metadata/markets.json from ccxt's loadMarkets().
 *
 *   npx tsx ingest/scripts/refresh-metadata.ts            # offline: recorded instrument bodies
 *   npx tsx ingest/scripts/refresh-metadata.ts --live     # the real venues
 *   npx tsx ingest/scripts/refresh-metadata.ts --rest binance-futures=http://127.0.0.1:1234
 *
 * Offline mode answers ccxt's requests from /work/shared/fixtures/cryptofeed/<EXCHANGE>.0, so the
 * shipped file is reproducible. Only the default symbols of each venue are kept, so the file stays
 * small; a venue author adds a SOURCES entry (ccxt class, options, fixture, symbols).
 */
import ccxt from 'ccxt';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { VenueId } from '@depthwatch/schemas';
import { readRestResponses } from '../src/fixtures/cryptofeed.ts';
import type { MarketInfo, MetadataFile } from '../src/metadata/index.ts';
import { FIXTURES_DIR } from '../src/fixtures/cryptofeed.ts';

interface Source {
  venue: VenueId;
  ccxtId: string;
  options: Record<string, unknown>;
  fixture: string;
  symbols: string[];
}

const SOURCES: Source[] = [
  { venue: 'binance-futures', ccxtId: 'binanceusdm', options: { fetchMarkets: ['linear'] }, fixture: 'BINANCE_FUTURES.0', symbols: ['BTC/USDT:USDT', 'ETH/USDT:USDT', 'SOL/USDT:USDT'] },
  { venue: 'binance', ccxtId: 'binance', options: { fetchMarkets: ['spot'] }, fixture: 'BINANCE.0', symbols: ['BTC/USDT', 'ETH/USDT', 'SOL/USDT'] },
  { venue: 'okx', ccxtId: 'okx', options: { fetchMarkets: { types: ['spot', 'swap'] } }, fixture: 'OKX.0', symbols: ['BTC/USDT:USDT', 'ETH/USDT:USDT', 'BTC/USDT'] },
];

/** Where the hand-written spot entries below come from (no recordings of these venues). */
const COINBASE_DOCS = 'venue docs: Coinbase Advanced Trade GET /api/v3/brokerage/market/products quote_increment/base_increment (no recording)';
const KRAKEN_DOCS = 'venue docs: Kraken AssetPairs pair_decimals/lot_decimals = WS v2 instrument price_precision/qty_precision (no recording); venueSymbol is the WS v2 name (REST id XXBTZUSD etc.)';

/**
 * Markets ccxt cannot derive from the recordings, written from the venues' docs and the recorded
 * instrument bodies (each says why in `source`). Kept here so a refresh does not drop them.
 */
const MANUAL: MarketInfo[] = [
  { venue: 'bybit', symbol: 'BTC/USDT:USDT', venueSymbol: 'BTCUSDT', type: 'swap', base: 'BTC', quote: 'USDT', settle: 'USDT', linear: true, inverse: false, contractSize: 1, tickSize: 0.1, lotSize: 0.001, source: 'confirmed: ccxt ts/src/test/static/markets/bybit.json (a recorded v5 instruments-info linear row): priceFilter.tickSize 0.10, lotSizeFilter.qtyStep 0.001; Bybit help centre \'Derivatives Trading Rules\' (BTCUSDT tick 0.1). No Bybit recording in the cryptofeed fixtures; refresh with --live' },
  { venue: 'bybit', symbol: 'ETH/USDT:USDT', venueSymbol: 'ETHUSDT', type: 'swap', base: 'ETH', quote: 'USDT', settle: 'USDT', linear: true, inverse: false, contractSize: 1, tickSize: 0.01, lotSize: 0.01, source: 'confirmed: ccxt ts/src/test/static/markets/bybit.json (a recorded v5 instruments-info linear row): priceFilter.tickSize 0.01, lotSizeFilter.qtyStep 0.01. No Bybit recording in the cryptofeed fixtures; refresh with --live' },
  { venue: 'bybit', symbol: 'SOL/USDT:USDT', venueSymbol: 'SOLUSDT', type: 'swap', base: 'SOL', quote: 'USDT', settle: 'USDT', linear: true, inverse: false, contractSize: 1, tickSize: 0.01, lotSize: 0.1, source: 'UNCONFIRMED: no source found for SOLUSDT linear (not in ccxt\'s static bybit markets, no recording); tick 0.01 / qtyStep 0.1 as first written from the docs; refresh with --live' },
  // DERIBIT.0 (2021) get_instruments rows predate `counter_currency`/`settlement_currency`, so ccxt
  // cannot name them; tick 0.5 / contract 10 USD / min amount 10 are the recorded BTC-PERPETUAL values.
  { venue: 'deribit', symbol: 'BTC/USD:BTC', venueSymbol: 'BTC-PERPETUAL', type: 'swap', base: 'BTC', quote: 'USD', settle: 'BTC', linear: false, inverse: true, contractSize: 10, tickSize: 0.5, lotSize: 10, source: 'venue docs + DERIBIT.0 get_instruments (ccxt cannot parse the 2021 rows)' },
  { venue: 'deribit', symbol: 'ETH/USD:ETH', venueSymbol: 'ETH-PERPETUAL', type: 'swap', base: 'ETH', quote: 'USD', settle: 'ETH', linear: false, inverse: true, contractSize: 1, tickSize: 0.05, lotSize: 1, source: 'venue docs + DERIBIT.0 get_instruments (ccxt cannot parse the 2021 rows)' },
  // ccxt 4.5.84 ships no bitmex class. XBTUSD from the recorded instrument/active row; ETHUSDT (linear) from a recorded /instrument row in ccxt's static test data.
  { venue: 'bitmex', symbol: 'BTC/USD:BTC', venueSymbol: 'XBTUSD', type: 'swap', base: 'BTC', quote: 'USD', settle: 'BTC', linear: false, inverse: true, contractSize: 1, tickSize: 0.5, lotSize: 100, source: 'BITMEX.0 instrument/active (tickSize 0.5, lotSize 100, multiplier -1e8 = 1 USD inverse); same in ccxt ts/src/test/static/markets/bitmex.json (2023-10-31 row); ccxt 4.5.84 has no bitmex class' },
  { venue: 'bitmex', symbol: 'ETH/USDT:USDT', venueSymbol: 'ETHUSDT', type: 'swap', base: 'ETH', quote: 'USDT', settle: 'USDT', linear: true, inverse: false, contractSize: 0.00001, tickSize: 0.05, lotSize: 1000, source: 'corrected (was contractSize 1e-6 from the generic linear-perpetuals guide example): ccxt ts/src/test/static/markets/bitmex.json, a recorded BitMEX /instrument row for ETHUSDT (2023-10-31): underlyingToPositionMultiplier 100000, lotSize 1000, tickSize 0.05; BitMEX support \'How Do I Calculate Contract Size…\': linear contract size = 1/underlyingToPositionMultiplier = 1e-5 ETH. Not in the 2021 recording' },
  // No Hyperliquid recording to answer ccxt offline. Sizes in coin (szDecimals BTC 5, ETH 4); prices carry at most 5 significant figures.
  { venue: 'hyperliquid', symbol: 'BTC/USDC:USDC', venueSymbol: 'BTC', type: 'swap', base: 'BTC', quote: 'USDC', settle: 'USDC', linear: true, inverse: false, contractSize: 1, tickSize: 1, lotSize: 0.00001, source: 'confirmed: szDecimals 5 (lot 1e-5) in ccxt ts/src/test/static/markets/hyperliquid.json (a recorded info/meta row); tick from the Hyperliquid docs \'Tick and lot size\' rule (≤ 5 significant figures, ≤ 6 − szDecimals decimals, integer prices always allowed) = 1 for BTC at ≥ 10 000. The tick is price-dependent: no fixed venue value exists. No recording for ccxt offline' },
  { venue: 'hyperliquid', symbol: 'ETH/USDC:USDC', venueSymbol: 'ETH', type: 'swap', base: 'ETH', quote: 'USDC', settle: 'USDC', linear: true, inverse: false, contractSize: 1, tickSize: 0.1, lotSize: 0.0001, source: 'confirmed: szDecimals 4 (lot 1e-4) in ccxt ts/src/test/static/markets/hyperliquid.json (a recorded info/meta row); tick from the Hyperliquid docs \'Tick and lot size\' rule (≤ 5 significant figures, ≤ 6 − szDecimals decimals) = 0.1 for ETH between 1 000 and 9 999.9 (0.01 below 1 000). Price-dependent. No recording for ccxt offline' },
  { venue: 'coinbase', symbol: 'BTC/USD', venueSymbol: 'BTC-USD', type: 'spot', base: 'BTC', quote: 'USD', settle: null, linear: false, inverse: false, contractSize: 1, tickSize: 0.01, lotSize: 0.00000001, source: COINBASE_DOCS },
  { venue: 'coinbase', symbol: 'ETH/USD', venueSymbol: 'ETH-USD', type: 'spot', base: 'ETH', quote: 'USD', settle: null, linear: false, inverse: false, contractSize: 1, tickSize: 0.01, lotSize: 0.00000001, source: COINBASE_DOCS },
  { venue: 'coinbase', symbol: 'SOL/USD', venueSymbol: 'SOL-USD', type: 'spot', base: 'SOL', quote: 'USD', settle: null, linear: false, inverse: false, contractSize: 1, tickSize: 0.01, lotSize: 0.00000001, source: COINBASE_DOCS },
  { venue: 'kraken', symbol: 'BTC/USD', venueSymbol: 'BTC/USD', type: 'spot', base: 'BTC', quote: 'USD', settle: null, linear: false, inverse: false, contractSize: 1, tickSize: 0.1, lotSize: 0.00000001, source: KRAKEN_DOCS },
  { venue: 'kraken', symbol: 'ETH/USD', venueSymbol: 'ETH/USD', type: 'spot', base: 'ETH', quote: 'USD', settle: null, linear: false, inverse: false, contractSize: 1, tickSize: 0.01, lotSize: 0.00000001, source: KRAKEN_DOCS },
  { venue: 'kraken', symbol: 'SOL/USD', venueSymbol: 'SOL/USD', type: 'spot', base: 'SOL', quote: 'USD', settle: null, linear: false, inverse: false, contractSize: 1, tickSize: 0.01, lotSize: 0.00000001, source: KRAKEN_DOCS },
];

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURES = FIXTURES_DIR;
const OUT = join(here, '../src/metadata/markets.json');

type CcxtMarket = {
  id: string; symbol: string; type: string; base: string; quote: string; settle?: string;
  linear?: boolean; inverse?: boolean; contractSize?: number; precision: { price?: number; amount?: number };
};

export async function loadVenueMarkets(src: Source, mode: { live: boolean; rest?: string }): Promise<MarketInfo[]> {
  const Cls = (ccxt as unknown as Record<string, new (o: object) => { fetch: unknown; loadMarkets(): Promise<Record<string, CcxtMarket>>; urls: { api: Record<string, string> } }>)[src.ccxtId];
  const ex = new Cls({ options: src.options });
  if (!mode.live && !mode.rest) {
    const bodies = readRestResponses(join(FIXTURES, src.fixture));
    // ccxt only needs the venue's instrument endpoint; answer it from the recording, fail on anything else.
    ex.fetch = async (url: string) => {
      const want = new URL(url);
      const query = (u: URL) => [...u.searchParams].map(([k, v]) => `${k}=${v}`).sort().join('&');
      // Same path and query first (OKX asks /instruments once per instType), else the first with the path.
      const hit =
        bodies.find((r) => new URL(r.url).pathname === want.pathname && query(new URL(r.url)) === query(want)) ??
        bodies.find((r) => new URL(r.url).pathname === want.pathname);
      if (!hit) throw new Error(`offline metadata: no recorded response for ${url}`);
      return JSON.parse(hit.body);
    };
  } else if (mode.rest) {
    const base = mode.rest;
    const origFetch = (ex.fetch as (...a: unknown[]) => Promise<unknown>).bind(ex);
    ex.fetch = (url: string, ...rest: unknown[]) => {
      const u = new URL(url);
      return origFetch(base + u.pathname + u.search, ...rest);
    };
  }
  const markets = await ex.loadMarkets();
  return src.symbols.map((symbol) => {
    const m = markets[symbol];
    if (!m) throw new Error(`${src.venue}: ccxt has no market ${symbol}`);
    return {
      venue: src.venue,
      symbol: m.symbol,
      venueSymbol: m.id,
      type: m.type as MarketInfo['type'],
      base: m.base,
      quote: m.quote,
      settle: m.settle ?? null,
      linear: m.type === 'spot' ? false : Boolean(m.linear),
      inverse: Boolean(m.inverse),
      contractSize: m.contractSize ?? 1,
      tickSize: m.precision.price ?? null,
      lotSize: m.precision.amount ?? null,
    };
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const live = args.includes('--live');
  const restOverrides = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--rest') {
      const [venue, url] = args[++i].split('=');
      restOverrides.set(venue, url);
    }
  }
  const markets: MarketInfo[] = [];
  for (const src of SOURCES) markets.push(...(await loadVenueMarkets(src, { live, rest: restOverrides.get(src.venue) })));
  markets.push(...MANUAL);
  const file: MetadataFile = {
    generatedAt: new Date().toISOString(),
    source: `ccxt ${(ccxt as unknown as { version: string }).version} ${live ? 'live' : restOverrides.size ? 'rest override' : 'offline (cryptofeed recordings)'}`,
    markets,
  };
  writeFileSync(OUT, JSON.stringify(file, null, 2) + '\n');
  console.log(`wrote ${markets.length} markets to ${OUT}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
