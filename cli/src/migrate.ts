import { createClient } from '@clickhouse/client';
import { migrate } from '@depthwatch/engine/sink/clickhouse/migrations';
import { ConfigError, type Config } from './config.ts';

export async function runMigrate(config: Config): Promise<void> {
  if (!config.clickhouse) throw new ConfigError('migrate needs --clickhouse URL (or DEPTHWATCH_CLICKHOUSE)');
  const client = createClient({ url: config.clickhouse });
  try {
    const applied = await migrate(client, config.clickhouseDb);
    process.stdout.write(`ClickHouse ${config.clickhouse} database ${config.clickhouseDb}: ${applied.length ? `applied ${applied.join(', ')}` : 'up to date'}\n`);
  } finally {
    await client.close();
  }
}
