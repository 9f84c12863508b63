import fc from 'fast-check';
import { VENUES } from '../../venues/index.ts';
import { FUZZ_VENUES, fuzzContext, hostileFrames, messageProblems, nonFinite, seedsFor, restSeedsFor } from '../../fuzz/support.ts';
import { VenueParseError } from '../../sync/adapter.ts';
const N = Number(process.argv[2] ?? 3000);
for (const venue of FUZZ_VENUES) {
  const a = VENUES[venue]!;
  const seeds = seedsFor(venue);
  const probs = new Map<string, string>();
  const errs = new Map<string, string>();
  let slow = 0;
  const samples = fc.sample(hostileFrames(seeds), { numRuns: N, seed: 42 });
  const ctx = fuzzContext(venue);
  for (const text of samples) {
    const t0 = performance.now();
    try {
      const msgs = a.parse(text, ctx);
      for (const m of msgs) {
        for (const p of [...nonFinite(m).map((x) => 'NONFINITE ' + m.kind + ' ' + x.replace(/\[\d+\]/g, '[]')), ...messageProblems(m, ctx.known).map((x) => m.kind + ' ' + x.replace(/-?[0-9.e+-]+$/, 'N'))]) if (!probs.has(p)) probs.set(p, text.slice(0, 300));
      }
    } catch (e) {
      const name = e instanceof VenueParseError ? 'VPE' : (e as Error)?.name ?? typeof e;
      if (name !== 'VPE' && name !== 'SyntaxError') { const k = name + ': ' + String((e as Error)?.message).slice(0, 80); if (!errs.has(k)) errs.set(k, text.slice(0, 200)); }
    }
    const dt = performance.now() - t0; if (dt > 100) slow++;
    try { const g = a.identify(text); if (g && (typeof g.channel !== 'string' || !['book','trade','liquidation','ticker'].includes(g.channel))) probs.set('identify channel ' + String(g.channel).slice(0,30), text.slice(0, 200)); } catch (e) { errs.set('identify threw ' + (e as Error).message, text.slice(0,100)); }
  }
  console.log('=====', venue, 'seeds', seeds.length, 'slow', slow);
  for (const [p, t] of probs) console.log('  P', p, '\n      ', t);
  for (const [p, t] of errs) console.log('  E', p, '\n      ', t);
}
