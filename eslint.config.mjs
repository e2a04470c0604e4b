import js from '@eslint/js';
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

/**
 * Raw HTTP clients (STYLE.md rule 7): a service calls another service only through
 * `@msr/discovery` + `@msr/circuit-breaker` (discovery, load balancing, breakers, retries), never
 * with its own `fetch` to a hard-coded URL.
 */
const rawHttpClientMessage = 'Call other services through ServiceHttpClient (@msr/discovery + @msr/circuit-breaker), not a raw HTTP client (STYLE.md rule 7).';
const rawHttpClientImports = {
  paths: [
    ...['node:http', 'http', 'node:https', 'https', 'node:http2', 'http2'].map((name) => ({
      name,
      importNames: ['request', 'get', 'Agent', 'ClientRequest', 'connect', 'globalAgent'],
      message: rawHttpClientMessage,
    })),
  ],
  patterns: [{ group: ['undici', 'undici/*', 'axios', 'axios/*', 'node-fetch', 'got', 'superagent', 'ky', 'needle', 'request', 'cross-fetch', 'isomorphic-fetch'], message: rawHttpClientMessage }],
};
const rawHttpClientGlobals = ['fetch', 'XMLHttpRequest', 'WebSocket', 'EventSource'].map((name) => ({ name, message: rawHttpClientMessage }));

/**
 * One lint configuration for the workspace. The module-boundary rule is the layering of
 * design/STYLE.md made mechanical: apps may import libs, libs never import apps, services never
 * import each other, and shared libs import only shared libs.
 */
export default tseslint.config(
  { ignores: ['**/dist', '**/node_modules', '**/.nx', '**/.infra', '**/tmp'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mjs'],
    plugins: { '@nx': nx },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:lib', 'type:tool'] },
            { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:lib', 'type:tool'] },
            { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.ts'],
    rules: {
      'no-console': 'error',
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'Use named exports (STYLE.md: no default exports).' },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // Config files are loaded by their tools, which expect a default export.
    files: ['**/vitest.config.ts', 'vitest.shared.ts'],
    rules: { 'no-restricted-syntax': 'off', '@nx/enforce-module-boundaries': 'off' },
  },
  {
    // Services make no raw HTTP calls (STYLE.md rule 7); tests may drive them with any client.
    files: ['apps/*-service/src/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': ['error', rawHttpClientImports],
      'no-restricted-globals': ['error', ...rawHttpClientGlobals],
      'no-restricted-properties': [
        'error',
        ...['globalThis', 'window', 'global', 'self'].map((object) => ({ object, property: 'fetch', message: rawHttpClientMessage })),
      ],
    },
  },
  {
    // The domain layer stays framework-free (STYLE.md, rule 1); the rule above still holds there.
    files: ['apps/*/src/domain/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: rawHttpClientImports.paths,
          patterns: [
            { group: ['express', 'pg', 'kafkajs', 'undici', 'opossum', 'pino*', '@msr/*'], message: 'domain/ imports no framework or infrastructure.' },
            ...rawHttpClientImports.patterns,
          ],
        },
      ],
    },
  },
  {
    // Tests may use the repository's test tooling (throwaway databases, the local broker).
    files: ['**/*.spec.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          depConstraints: [
            { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib', 'type:tool'] },
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib', 'type:tool'] },
            { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:lib', 'type:tool'] },
            { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:lib', 'type:tool'] },
          ],
        },
      ],
    },
  },
  {
    // Command-line tools and scripts talk to the terminal.
    files: ['tools/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
);
