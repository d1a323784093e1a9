// `driver =` name → module. Adding a driver: write one file exporting an AuthDriverModule and
// register it here (or call registerAuthDriver from the module that owns it, e.g. src/lua).
import { luaDriver } from './lua.js';
import { passwdFileDriver } from './passwd-file.js';
import { roostDriver } from './roost.js';
import { staticDriver } from './static.js';
import type { AuthDriverModule } from './types.js';

const drivers = new Map<string, AuthDriverModule>();

export function registerAuthDriver(module: AuthDriverModule): void {
  drivers.set(module.name, module);
}

export function getAuthDriver(name: string): AuthDriverModule | undefined {
  return drivers.get(name);
}

registerAuthDriver(roostDriver);
registerAuthDriver(passwdFileDriver);
registerAuthDriver(staticDriver);
registerAuthDriver(luaDriver);
