// The one loader of the Lua code Roost runs inside a state: the prelude (the Dovecot API), its
// lazily loaded parts and the bindings' chunks live in src/lua/chunks/*.lua. The build copies
// them next to the compiled JavaScript (scripts/copy-assets.ts), so this module finds them
// beside itself both from sources (ts-jest) and from dist/. Each file is read once per thread.
//
// A chunk is named `=roost/<file>`: errors and tracebacks point at the file and line, while
// the API's position helpers (source_of in prelude.lua) still see no script file there, as
// Dovecot's C functions are seen.
import { readFileSync } from 'node:fs';

export interface LuaChunk {
  readonly source: string;
  /** The chunkname given to lua_load. */
  readonly chunkName: string;
}

const CHUNK_DIR = new URL('./chunks/', import.meta.url);
const loaded = new Map<string, LuaChunk>();

/** The chunk in src/lua/chunks/`file` (e.g. 'prelude.lua'). */
export function luaChunk(file: string): LuaChunk {
  let chunk = loaded.get(file);
  if (!chunk) {
    chunk = { source: readFileSync(new URL(file, CHUNK_DIR), 'utf8'), chunkName: `=roost/${file}` };
    loaded.set(file, chunk);
  }
  return chunk;
}

/** Parts of the API a state loads on first use through `H.load_lazy(name)` (prelude.lua). */
export const LAZY_CHUNK_FILES: Readonly<Record<string, string>> = {
  http: 'http.lua',
  events: 'events.lua',
  api: 'dovecot.lua',
};
