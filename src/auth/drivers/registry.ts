// `driver =` name → module. Adding a driver: write one file exporting an AuthDriverModule and
// register it here (or call registerAuthDriver from the module that owns it, e.g. src/lua).
import { luaDriver } from './lua.js';
import { passwdFileDriver } from './passwd-file.js';
import { roostDriver } from './roost.js';
import { sqlDriver } from './sql/index.js';
import { staticDriver } from './static.js';
import type { AuthDriverModule } from './types.js';

const drivers = new Map<string, AuthDriverModule>();

export function registerAuthDriver(module: AuthDriverModule): void {
  drivers.set(module.name, module);
}

export function getAuthDriver(name: string): AuthDriverModule | undefined {
  return drivers.get(name);
}

/** Whether `driver = name` is valid in a passdb (or userdb) block. */
export function hasAuthDriver(name: string, kind: 'passdb' | 'userdb'): boolean {
  return Boolean(drivers.get(name)?.[kind]);
}

/** The driver names a passdb (or userdb) block accepts, for error messages. */
export function authDriverNames(kind: 'passdb' | 'userdb'): string[] {
  return [...drivers.values()].filter((d) => d[kind]).map((d) => d.name);
}

registerAuthDriver(roostDriver);
registerAuthDriver(passwdFileDriver);
registerAuthDriver(staticDriver);
registerAuthDriver(luaDriver);
registerAuthDriver(sqlDriver);
