import fc from 'fast-check';
import { VENUES } from '../../venues/index.ts';
import { FUZZ_VENUES, fuzzContext, hostileFrames, seedsFor } from '../support.ts';
const seen = new Set<string>();
for (const venue of FUZZ_VENUES) {
  const a = VENUES[venue]!; const ctx = fuzzContext(venue);
  for (const text of fc.sample(hostileFrames(seedsFor(venue)), { numRuns: 2000, seed: 42 })) {
    try { a.parse(text, ctx); } catch (e) { if (e instanceof RangeError) { const where = (e.stack ?? '').split('\n').find((l) => l.includes('/venues/'))?.trim() ?? (e.stack ?? '').split('\n').slice(1,3).join('|'); if (!seen.has(where)) { seen.add(where); console.log(venue, where); } } }
  }
}
