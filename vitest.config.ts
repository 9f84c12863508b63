import { defineConfig } from 'vitest/config';

const WORKSPACES = '{schemas,bus,ops,ingest,engine,gateway,cli,bench,infra}';
/** Tests that need real servers (Kafka, ClickHouse, Chromium) or restart them: run one file at a time. */
const INTEGRATION = [`${WORKSPACES}/**/*.int.test.ts`];

export default defineConfig({
  test: {
    exclude: ['**/node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 300_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: [`${WORKSPACES}/**/*.test.ts`], exclude: ['**/node_modules/**', ...INTEGRATION] },
      },
      {
        extends: true,
        test: { name: 'integration', include: INTEGRATION, fileParallelism: false, testTimeout: 120_000 },
      },
    ],
  },
});
