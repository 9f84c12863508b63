import { isCcxtVenueId, type Bus, type Level, type Stage, type StageHealth } from '@depthwatch/schemas';
import { logger } from '@depthwatch/ops';
import { adapterFor } from './venues/index.ts';
import type { VenueAdapter } from './sync/adapter.ts';
import { VenueSession, type RawTap, type VenueConfig } from './sync/venue-session.ts';
import type { SymbolFeed } from './sync/symbol-feed.ts';
import type { CcxtFallbackOptions, CcxtSession, CcxtVenueConfig } from './ccxt/session.ts';

export type { VenueConfig } from './sync/venue-session.ts';

/** A venue to collect: native (`binance-futures`, …) or through the ccxt fallback (`ccxt:gate`, with `ccxt` options). */
export type IngestVenueConfig = VenueConfig & { ccxt?: CcxtFallbackOptions };

export interface IngestOptions {
  bus: Bus;
  venues: readonly IngestVenueConfig[];
  /** Adapters by venue (default: the registry); lets tests plug an adapter in. */
  adapters?: Partial<Record<string, VenueAdapter>>;
  /** Raw traffic recorder for every venue (ingest/src/record): `RawRecorder.tap`. */
  recorder?: RawTap;
}

export interface IngestStage extends Stage {
  /** Native venue sessions (sync framework). */
  readonly sessions: ReadonlyMap<string, VenueSession>;
  /** ccxt fallback sessions (`ccxt:<id>` venues). */
  readonly fallbacks: ReadonlyMap<string, CcxtSession>;
  /** The collector's current book (null while not synced): for checkpoints in tests and debugging. */
  book(venue: string, symbol: string): { bids: Level[]; asks: Level[] } | null;
}

/**
 * Starts one session per configured venue: a native VenueSession, or a ccxt fallback session for
 * `ccxt:<id>` venues (validated against ccxt first: an unknown exchange or a native venue's ccxt id
 * without `ccxt.force` is an error here). Resolves once every session has been started (not once
 * synced: readiness is reported by health(), which turns ready when every symbol is synced and fresh).
 */
export async function startIngest(opts: IngestOptions): Promise<IngestStage> {
  const sessions = new Map<string, VenueSession>();
  const fallbacks = new Map<string, CcxtSession>();
  for (const cfg of opts.venues) {
    if (sessions.has(cfg.venue) || fallbacks.has(cfg.venue)) throw new Error(`venue ${cfg.venue} configured twice`);
    if (isCcxtVenueId(cfg.venue)) {
      // Loaded only when a ccxt venue is configured: importing ccxt costs about a second.
      const { CcxtSession } = await import('./ccxt/session.ts');
      if (opts.recorder) logger('ingest', { venue: cfg.venue }).warn('raw recording does not cover ccxt fallback venues (ccxt owns their sockets)');
      fallbacks.set(cfg.venue, await CcxtSession.create(cfg as CcxtVenueConfig, opts.bus));
      continue;
    }
    const adapter = opts.adapters?.[cfg.venue] ?? adapterFor(cfg.venue);
    sessions.set(cfg.venue, new VenueSession(adapter, opts.recorder ? { recorder: opts.recorder, ...cfg } : cfg, opts.bus));
  }
  for (const s of sessions.values()) s.start();
  for (const s of fallbacks.values()) s.start();
  const allFeeds = function* (): Generator<[string, string, SymbolFeed]> {
    for (const s of [...sessions.values(), ...fallbacks.values()]) for (const [symbol, f] of s.feeds) yield [s.venue, symbol, f];
  };
  return {
    name: 'ingest',
    sessions,
    fallbacks,
    book(venue, symbol) {
      return (sessions.get(venue) ?? fallbacks.get(venue))?.feeds.get(symbol)?.book() ?? null;
    },
    health(): StageHealth {
      const details: Record<string, string> = {};
      for (const [venue, symbol, f] of allFeeds()) if (!f.ready || f.state !== 'synced') details[`${venue}:${symbol}`] = `${f.state}: ${f.reason}`;
      return { alive: true, ready: Object.keys(details).length === 0, details };
    },
    async close() {
      await Promise.all([...sessions.values(), ...fallbacks.values()].map((s) => s.close()));
    },
  };
}
