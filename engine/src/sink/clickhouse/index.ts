export { startClickHouseSink, createSinkClient, IDLE_SOCKET_TTL_MS, type ClickHouseSink, type ClickHouseSinkOptions } from './sink.ts';
export { migrate, MIGRATIONS, assertDatabaseName, type Migration, type MigrateResult } from './migrations.ts';
export { SINK_TABLES, type SinkTable } from './rows.ts';
