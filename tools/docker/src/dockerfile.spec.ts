import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { workspaceRoot } from '@msr/infra';
import { appNames } from '@msr/system';
import { describe, expect, it } from 'vitest';
import { parseDockerignore } from './dockerignore.js';

const dockerfile = readFileSync(path.join(workspaceRoot, 'Dockerfile'), 'utf8');
const isIgnored = parseDockerignore(readFileSync(path.join(workspaceRoot, '.dockerignore'), 'utf8'));

/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));

/** Instructions per stage, by stage name. */
const stages = new Map<string, string[]>();
let current: string[] = [];
for (const instruction of instructions) {
  const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction);
  if (from) {
    current = [instruction];
    stages.set(from[2] ?? `stage${stages.size}`, current);
  } else current.push(instruction);
}
const stageNames = [...stages.keys()];
const runtime = stages.get('runtime') ?? [];

describe('Dockerfile', () => {
  it('builds in stages on slim Node 20, the runtime stage last so it is the default target', () => {
    expect(stageNames).toEqual(['workspace', 'build', 'runtime']);
    const nodeImage = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1];
    expect(nodeImage).toMatch(/^node:20(\.\d+)*-[a-z]+-slim$/);
    expect(instructions.filter((line) => line.startsWith('FROM'))).toEqual(['FROM ${NODE_IMAGE} AS workspace', 'FROM workspace AS build', 'FROM ${NODE_IMAGE} AS runtime']);
  });

  it('builds the app named by APP with Nx, and refuses to build without it', () => {
    const build = stages.get('build') ?? [];
    expect(build).toContain('ARG APP');
    expect(build.some((line) => /^RUN test -n "\$\{APP\}" \|\|/.test(line))).toBe(true);
    expect(build).toContain('RUN npx nx build "${APP}" --outputStyle=static');
    for (const app of appNames) {
      const project = JSON.parse(readFileSync(path.join(workspaceRoot, 'apps', app, 'project.json'), 'utf8')) as { targets: { build?: { options?: { outputPath?: string } } } };
      expect(project.targets.build?.options?.outputPath).toBe(`dist/apps/${app}`);
    }
    expect(runtime).toContain('COPY --from=build /repo/dist/apps/${APP} ./');
  });

  it('runs production packages only, as a non-root user, with a HEALTHCHECK on /health', () => {
    expect(runtime.some((line) => line.startsWith('RUN npm ci --omit=dev'))).toBe(true);
    const users = runtime.filter((line) => line.startsWith('USER ')).map((line) => line.slice(5).trim());
    expect(users).toEqual(['node']);
    const healthcheck = runtime.find((line) => line.startsWith('HEALTHCHECK'));
    expect(healthcheck).toMatch(/CMD \["node", "\/usr\/local\/lib\/msr\/healthcheck\.mjs"\]$/);
    expect(readFileSync(path.join(workspaceRoot, 'tools/docker/healthcheck.mjs'), 'utf8')).toContain('/health');
    expect(runtime).toContain('ENTRYPOINT ["/bin/sh", "/usr/local/lib/msr/docker-entrypoint.sh"]');
    expect(runtime).toContain('CMD ["node", "--enable-source-maps", "main.js"]');
    expect(runtime).toContain('ENV APP=${APP} HOST=0.0.0.0 ADVERTISE_HOST=auto');
  });

  it('copies only files that exist and that .dockerignore lets into the build context', () => {
    const sources = instructions
      .filter((line) => line.startsWith('COPY ') && !line.includes('--from='))
      .flatMap((line) => line.replace(/^COPY\s+(--\S+\s+)*/, '').split(/\s+/).slice(0, -1))
      .filter((source) => source !== '.');
    expect(sources).toEqual(['package.json', 'package-lock.json', 'package.json', 'package-lock.json', 'tools/docker/docker-entrypoint.sh', 'tools/docker/healthcheck.mjs']);
    for (const source of sources) {
      expect(existsSync(path.join(workspaceRoot, source)), source).toBe(true);
      expect(isIgnored(source), source).toBe(false);
    }
  });
});

describe('.dockerignore', () => {
  it('keeps installed packages (at any depth), build output, local data and secrets out of the context', () => {
    const nested = execFileSync('find', ['.', '-name', 'node_modules', '-type', 'd', '-prune', '-not', '-path', './node_modules'], { cwd: workspaceRoot, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((dir) => dir.replace(/^\.\//, ''));
    const outside = ['node_modules/express/package.json', 'dist/apps/gateway/main.js', 'tmp/demo-logs/gateway.log', '.infra/kafka/data/meta.properties', '.nx/workspace-data/file-map.json', '.git/HEAD', 'coverage/index.html', '.env', 'apps/gateway/debug.log', ...nested.map((dir) => `${dir}/.vite/results.json`)];
    expect(outside.filter((file) => !isIgnored(file))).toEqual([]);
  });

  it('lets in everything a build needs', () => {
    const inside = ['package.json', 'package-lock.json', 'nx.json', 'tsconfig.base.json', 'vitest.shared.ts', 'eslint.config.mjs', 'tools/docker/healthcheck.mjs', 'tools/kafka/pom.xml'];
    for (const app of appNames) inside.push(`apps/${app}/project.json`, `apps/${app}/src/main.ts`, `apps/${app}/tsconfig.app.json`);
    for (const lib of ['service-defaults', 'events', 'discovery', 'circuit-breaker', 'saga']) inside.push(`libs/${lib}/src/index.ts`);
    inside.push('apps/user-service/migrations/', 'libs/events/migrations/');
    expect(inside.filter((file) => isIgnored(file))).toEqual([]);
    for (const file of inside) expect(existsSync(path.join(workspaceRoot, file)), file).toBe(true);
  });
});

describe('parseDockerignore', () => {
  const ignored = parseDockerignore('# comment\n**/node_modules\ndist\n*.log\n!keep.log\ndocs/**/draft-?.md\n');

  it('applies Docker’s matching: folders exclude their contents, ** spans folders, ! re-includes', () => {
    expect(['node_modules', 'a/b/node_modules/x/y.js', 'dist/main.js', 'error.log', 'docs/a/b/draft-1.md', 'docs/draft-2.md'].filter((file) => !ignored(file))).toEqual([]);
    expect(['keep.log', 'a/error.log', 'src/dist.ts', 'docs/draft-10.md', 'distribution/x'].filter(ignored)).toEqual([]);
  });
});
