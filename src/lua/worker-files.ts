// Locates the compiled JavaScript of a worker entry. Worker threads cannot load .ts files, so
// when this module runs from sources (ts-jest, `src/lua/*.ts`) the entry is taken from the
// build output `<root>/dist/src/lua/` (`npm run build`; the jest globalSetup builds it).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function workerEntryUrl(baseName: 'worker' | 'http-worker'): URL {
  const here = import.meta.url;
  const fromSources = here.endsWith('.ts');
  const url = fromSources
    ? new URL(`../../dist/src/lua/${baseName}.js`, here)
    : new URL(`./${baseName}.js`, here);
  if (!existsSync(fileURLToPath(url))) {
    throw new Error(`Lua worker entry ${fileURLToPath(url)} is missing: run "npm run build" first`);
  }
  return url;
}
