import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The workspace root: the nearest folder above this module that holds `nx.json`. Found from
 * `import.meta.url` rather than the working directory, so the tools behave the same whether they
 * run from the root (`npm run infra:up`) or from a project folder (Vitest under Nx).
 */
export const workspaceRoot: string = findWorkspaceRoot(path.dirname(fileURLToPath(import.meta.url)));

/** Git-ignored folder for everything the infrastructure tools download or run (`<root>/.infra`). */
export const infraDir: string = path.join(workspaceRoot, '.infra');

function findWorkspaceRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'nx.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no nx.json above ${start}; is this module inside the workspace?`);
  }
}

/** `file` relative to the workspace root when it is inside it, for shorter messages. */
export function displayPath(file: string): string {
  const relative = path.relative(workspaceRoot, file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}
