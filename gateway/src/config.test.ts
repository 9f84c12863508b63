import { describe, expect, it } from 'vitest';
import { ApiKeyRegistry, DEFAULT_GATEWAY_CONFIG, parseApiKeysEnv, resolveGatewayConfig } from './config.ts';

describe('gateway config', () => {
  it('parses DEPTHWATCH_API_KEYS and merges keys', () => {
    expect(parseApiKeysEnv('desk:desk-key-123:5, bare-key-456')).toEqual([
      { name: 'desk', key: 'desk-key-123', maxConnections: 5 },
      { name: 'env-key-2', key: 'bare-key-456' },
    ]);
    expect(() => parseApiKeysEnv('desk:desk-key-123:zero')).toThrow(/maxConnections/);
    const cfg = resolveGatewayConfig({ apiKeys: [{ name: 'a', key: 'a-key-0001' }] }, { DEPTHWATCH_API_KEYS: 'b:b-key-0002' });
    expect(cfg.apiKeys.map((k) => k.name)).toEqual(['a', 'b']);
    expect(cfg.tickMs).toBe(DEFAULT_GATEWAY_CONFIG.tickMs);
  });

  it('rejects nonsense limits and short keys', () => {
    expect(() => resolveGatewayConfig({ tickMs: 0 }, {})).toThrow(/tickMs/);
    expect(() => resolveGatewayConfig({ maxBookDepth: 5000 }, {})).toThrow(/maxBookDepth/);
    expect(() => resolveGatewayConfig({ apiKeys: [{ name: 'x', key: 'short' }] }, {})).toThrow(/at least 8/);
  });

  it('checks keys by digest and reports the matching name and limit', () => {
    const reg = new ApiKeyRegistry([{ name: 'desk', key: 'desk-key-123', maxConnections: 2 }, { name: 'ops', key: 'ops-key-4567' }], 100);
    expect(reg.check('ops-key-4567')).toEqual({ name: 'ops', maxConnections: 100 });
    expect(reg.check('desk-key-123')).toEqual({ name: 'desk', maxConnections: 2 });
    expect(reg.check('desk-key-12')).toBeNull();
    expect(reg.check('')).toBeNull();
    expect(reg.check(null)).toBeNull();
    expect(JSON.stringify(reg)).not.toContain('desk-key-123');
  });
});
