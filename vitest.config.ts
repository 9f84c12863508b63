import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{schemas,bus,ops,ingest,engine,gateway,cli,bench,infra}/**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 300_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
