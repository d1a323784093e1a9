// URL of the push-notification binding module for LuaStateOptions.bindings (compiled JS: worker
// threads cannot load .ts; from sources the dist/ copy is used, see src/lua/worker-files.ts).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LuaBindingSpec } from '../types.js';

export function pushNotificationBindingSpec(): LuaBindingSpec {
  const here = import.meta.url;
  const url = here.endsWith('.ts')
    ? new URL('../../../dist/src/lua/push-notification/binding.js', here)
    : new URL('./binding.js', here);
  if (!existsSync(fileURLToPath(url))) {
    throw new Error(`Lua binding module ${fileURLToPath(url)} is missing: run "npm run build" first`);
  }
  return { module: url.href };
}
