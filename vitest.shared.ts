import { defineConfig } from 'vitest/config';

/**
 * The one Vitest configuration every project extends: TypeScript path aliases from
 * `tsconfig.base.json`, unit tests as `*.spec.ts`, integration tests as
 * `*.integration.spec.ts` (they need the PostgreSQL and Kafka that `npm test` brings up).
 */
export function projectTestConfig(options: { include?: string[]; testTimeoutMs?: number } = {}) {
  return defineConfig({
    resolve: { tsconfigPaths: true },
    test: {
      include: options.include ?? ['src/**/*.spec.ts'],
      environment: 'node',
      testTimeout: options.testTimeoutMs ?? 20_000,
      hookTimeout: 60_000,
      // Integration tests share one broker and one database server; files run one at a time
      // per project so tests do not fight over topics and rows.
      fileParallelism: false,
      reporters: ['default'],
    },
  });
}
