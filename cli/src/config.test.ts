import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';
import { helpText, OPTIONS } from './options.ts';

describe('config', () => {
  it('has embedded defaults: simulated venues, memory bus, port 8080', () => {
    const c = loadConfig(['start'], {});
    expect(c.kafka).toBeNull();
    expect(c.live).toBe(false);
    expect(c.port).toBeNull();
    expect(c.scenario).toBe('default');
  });

  it('lets flags override env and env override the config file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dw-config-'));
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ seed: 7, scenario: 'calm', 'depth-interval': 250 }));
    const c = loadConfig(['start', '--config', file, '--seed', '9'], { DEPTHWATCH_SCENARIO: 'cascade' });
    expect(c.seed).toBe(9);
    expect(c.scenario).toBe('cascade');
    expect(c.depthIntervalMs).toBe(250);
  });

  it('parses repeatable venue URL overrides', () => {
    const c = loadConfig(['ingest', '--kafka', 'localhost:9092', '--rest-url', 'binance-futures=http://127.0.0.1:1234', '--ws-url', 'binance-futures=ws://127.0.0.1:1235/stream'], {});
    expect(c.venueUrls['binance-futures']).toEqual({ restUrl: 'http://127.0.0.1:1234', wsUrl: 'ws://127.0.0.1:1235/stream' });
    expect(c.kafka).toEqual(['localhost:9092']);
  });

  it.each([
    [['start', '--venues', 'nasdaq'], /unknown venue "nasdaq"; expected one of: .*ccxt:<exchange id>/],
    [['start', '--venues', 'ccxt:Gate.io'], /unknown venue "ccxt:Gate.io"/],
    [['start', '--rest-url', 'ccxt:gate=http://127.0.0.1:1'], /ccxt:gate is a ccxt fallback venue; its endpoints and checks come from ccxt/],
    [['start', '--no-checksum', 'ccxt:gate'], /ccxt fallback venue/],
    [['record', '--ccxt-force'], /does not apply to "record"/],
    [['start', '--symbols', 'btcusdt'], /not a unified symbol/],
    [['start', '--port', 'eighty'], /--port must be an integer/],
    [['start', '--port', '70000'], /between 0 and 65535/],
    [['start', '--kafka', 'nohost'], /not HOST:PORT/],
    [['start', '--scenario', 'boom'], /--scenario must be/],
    [['start', '--clickhouse', 'ftp://x'], /must use http/],
    [['start', '--clickhouse-db', 'x;DROP'], /not a valid database name/],
    [['start', '--rest-url', 'http://x'], /VENUE=URL/],
    [['start', '--bogus'], /Unknown option '--bogus'/],
    [['tail', '--kafka', 'a:1'], /does not apply to "tail"/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['start', '--log-level', 'loud'], /--log-level must be one of/],
    [['replay', 'f.gz', '--speed', 'fast'], /--speed must be a positive number or max/],
    [['replay', 'f.gz', '--from', 'yesterday'], /--from must be epoch ms or an ISO 8601 time/],
    [['replay', 'f.gz', '--run-id', "x'; DROP"], /--run-id may hold only/],
    [['record', '--kafka', 'a:1'], /does not apply to "record"/],
  ])('rejects %j with a clear error', (argv, message) => {
    expect(() => loadConfig(argv, {})).toThrow(ConfigError);
    expect(() => loadConfig(argv, {})).toThrow(message);
  });

  it('accepts ccxt:<exchange id> venues beside native ones, and --ccxt-force', () => {
    const c = loadConfig(['start', '--live', '--venues', 'okx,ccxt:gate,ccxt:kucoin', '--symbols', 'BTC/USDT', '--ccxt-force'], {});
    expect(c.venues).toEqual(['okx', 'ccxt:gate', 'ccxt:kucoin']);
    expect(c.ccxtForce).toBe(true);
    expect(loadConfig(['start'], {}).ccxtForce).toBe(false);
    expect(helpText('start')).toMatch(/ccxt:<exchange id> \(e\.g\. ccxt:gate\)/);
  });

  it('rejects unknown keys and bad JSON in the config file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dw-config-'));
    writeFileSync(join(dir, 'a.json'), '{"sede": 1}');
    writeFileSync(join(dir, 'b.json'), '{"seed": ');
    expect(() => loadConfig(['start', '-c', join(dir, 'a.json')], {})).toThrow(/unknown key "sede"/);
    expect(() => loadConfig(['start', '-c', join(dir, 'b.json')], {})).toThrow(/not valid JSON/);
    expect(() => loadConfig(['start', '-c', join(dir, 'missing.json')], {})).toThrow(/cannot read config file/);
  });

  it('lists every option in --help', () => {
    const text = helpText();
    for (const opt of OPTIONS) expect(text).toContain(`--${opt.name}`);
    expect(helpText('tail')).not.toContain('--kafka');
  });
});
