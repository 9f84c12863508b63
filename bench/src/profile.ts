/**
 * Summarizes a V8 .cpuprofile (node --cpu-prof): self time per function, top N, as a text table.
 *   npx tsx bench/src/profile.ts bench/out/profiles/engine.cpuprofile [N]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export function summarizeProfile(path: string, top = 25): { text: string; busyMs: number } {
  const p = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]);
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    if (!n) continue;
    const f = n.callFrame;
    const file = f.url ? f.url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules\/|work\/main\/)/, '$1') : '';
    const key = `${f.functionName || '(anonymous)'}  ${file}${file ? `:${f.lineNumber + 1}` : ''}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  }
  const busy = [...self].filter(([k]) => !k.startsWith('(idle)')).reduce((a, [, us]) => a + us, 0);
  const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, top);
  const text =
    `busy ${(busy / 1000).toFixed(0)} ms of ${(total / 1000).toFixed(0)} ms sampled; % of busy time\n` +
    rows.map(([k, us]) => `${k.startsWith('(idle)') ? '    —' : ((100 * us) / busy).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`).join('\n') +
    '\n';
  return { text, busyMs: busy / 1000 };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.stdout.write(summarizeProfile(process.argv[2], Number(process.argv[3] ?? 30)).text);
}
