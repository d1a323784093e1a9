// URL of a binding module for LuaStateOptions.bindings. Worker threads cannot load .ts files, so
// when this runs from sources (ts-jest) the compiled module under dist/ is used (see
// src/lua/worker-files.ts; test/global-setup.ts compiles the bindings).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function bindingModuleUrl(baseName: 'mail-user'): string {
  const here = import.meta.url;
  const url = here.endsWith('.ts')
    ? new URL(`../../../dist/src/lua/bindings/${baseName}.js`, here)
    : new URL(`./${baseName}.js`, here);
  if (!existsSync(fileURLToPath(url))) {
    throw new Error(`Lua binding module ${fileURLToPath(url)} is missing: run "npm run build" first`);
  }
  return url.href;
}
