import type { Bus, Level, Stage, StageHealth } from '@depthwatch/schemas';
import { adapterFor } from './venues/index.ts';
import type { VenueAdapter } from './sync/adapter.ts';
import { VenueSession, type RawTap, type VenueConfig } from './sync/venue-session.ts';

export type { VenueConfig } from './sync/venue-session.ts';

export interface IngestOptions {
  bus: Bus;
  venues: readonly VenueConfig[];
  /** Adapters by venue (default: the registry); lets tests plug an adapter in. */
  adapters?: Partial<Record<string, VenueAdapter>>;
  /** Raw traffic recorder for every venue (ingest/src/record): `RawRecorder.tap`. */
  recorder?: RawTap;
}

export interface IngestStage extends Stage {
  readonly sessions: ReadonlyMap<string, VenueSession>;
  /** The collector's current book (null while not synced): for checkpoints in tests and debugging. */
  book(venue: string, symbol: string): { bids: Level[]; asks: Level[] } | null;
}

/**
 * Starts one session per configured venue. Resolves once every socket has been started (not once
 * synced: readiness is reported by health(), which turns ready when every symbol is synced and fresh).
 */
export async function startIngest(opts: IngestOptions): Promise<IngestStage> {
  const sessions = new Map<string, VenueSession>();
  for (const cfg of opts.venues) {
    if (sessions.has(cfg.venue)) throw new Error(`venue ${cfg.venue} configured twice`);
    const adapter = opts.adapters?.[cfg.venue] ?? adapterFor(cfg.venue);
    sessions.set(cfg.venue, new VenueSession(adapter, opts.recorder ? { recorder: opts.recorder, ...cfg } : cfg, opts.bus));
  }
  for (const s of sessions.values()) s.start();
  return {
    name: 'ingest',
    sessions,
    book(venue, symbol) {
      return sessions.get(venue)?.feeds.get(symbol)?.book() ?? null;
    },
    health(): StageHealth {
      const details: Record<string, string> = {};
      for (const s of sessions.values()) {
        for (const [symbol, f] of s.feeds) if (!f.ready || f.state !== 'synced') details[`${s.venue}:${symbol}`] = `${f.state}: ${f.reason}`;
      }
      return { alive: true, ready: Object.keys(details).length === 0, details };
    },
    async close() {
      await Promise.all([...sessions.values()].map((s) => s.close()));
    },
  };
}
