import { createClient } from '@clickhouse/client';
import { migrate } from '@depthwatch/engine/sink/clickhouse/migrations';
import { ConfigError, type Config } from './config.ts';

export async function runMigrate(config: Config): Promise<void> {
  if (!config.clickhouse) throw new ConfigError('migrate needs --clickhouse URL (or DEPTHWATCH_CLICKHOUSE)');
  const client = createClient({ url: config.clickhouse });
  try {
    const result = await migrate(client, config.clickhouseDb);
    const applied = result.applied.length ? `applied migrations ${result.applied.join(', ')}` : 'up to date';
    process.stdout.write(`ClickHouse ${config.clickhouse} database ${config.clickhouseDb}: ${applied} (schema version ${result.current})\n`);
  } finally {
    await client.close();
  }
}
