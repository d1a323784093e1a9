// The compiled JavaScript of one of our modules, for what can only load compiled code: worker
// thread entries and the binding modules a Lua worker imports. Run from dist/ (`roost`), the
// module sits beside this one's tree; run from sources (ts-jest), it is taken from the build
// output `<root>/dist/src/` (`npm run build`; the jest globalSetup compiles the worker graph).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Modules found once: asked for per Lua state (each LMTP recipient), so no stat each time. */
const found = new Map<string, URL>();

/** URL of `src/<pathFromSrc>` compiled (e.g. 'lua/worker.js'); throws when it was not built. */
export function compiledModuleUrl(pathFromSrc: string): URL {
  const known = found.get(pathFromSrc);
  if (known) return new URL(known);
  const here = import.meta.url;
  const url = here.endsWith('.ts') ? new URL(`../../dist/src/${pathFromSrc}`, here) : new URL(`../${pathFromSrc}`, here);
  if (!existsSync(fileURLToPath(url))) throw new Error(`${fileURLToPath(url)} is missing: run "npm run build" first`);
  found.set(pathFromSrc, url);
  return new URL(url);
}
