// Compiled Lua chunks shared by the states of one worker thread. The prelude and the binding
// chunks are parsed once per worker; later states load their bytecode (lua_dump, then
// luaL_loadbufferx in mode 'b'), which is several times faster than parsing and yields smaller
// prototypes. A user script keeps its debug information, so its error positions and tracebacks
// are unchanged. Roost's own chunks are dumped without it (line and local-variable information
// is about half of their bytecode and of the time to load it, issue #18) but keep their chunk
// name, by which the timeout hook tells their frames from the script's (withSourceName).
// A user script is cached per source Buffer: ScriptSourceCache hands out a new Buffer when the
// file changed (mtime/size/inode), so a changed script is compiled again and the old bytecode
// is dropped with its Buffer.
import type { LuaWasm } from 'wasmoon';
import { rawModule } from './lua-stack.js';

interface EmscriptenFunctions {
  addFunction(fn: (...args: number[]) => number | void, signature: string): number;
}

export class ChunkCache {
  /** Keyed by the source text (constants of the code: their hashes stay cached); per chunk name. */
  private readonly byText = new Map<string, { chunkName: string; bytecode: Buffer }>();
  private readonly bySource = new WeakMap<Buffer, { chunkName: string; bytecode: Buffer }>();
  private writer: { module: unknown; ptr: number } | null = null;
  private parts: Buffer[] = [];

  get(source: string | Buffer, chunkName: string): Buffer | undefined {
    const hit = typeof source === 'string' ? this.byText.get(source) : this.bySource.get(source);
    return hit?.chunkName === chunkName ? hit.bytecode : undefined;
  }

  set(source: string | Buffer, chunkName: string, bytecode: Buffer): void {
    if (typeof source === 'string') this.byText.set(source, { chunkName, bytecode });
    else this.bySource.set(source, { chunkName, bytecode });
  }

  /**
   * lua_dump of the Lua function on top of the stack (left there): with debug information, or
   * with `strip` without it but with the main function's chunk name `strip.chunkName` (with it
   * after all when the stripped dump cannot be given its name back).
   */
  dump(lua: LuaWasm, L: number, strip?: { chunkName: string }): Buffer | null {
    const stripped = strip ? this.dumpOnce(lua, L, true) : null;
    return (stripped && withSourceName(stripped, strip!.chunkName)) ?? this.dumpOnce(lua, L, false);
  }

  private dumpOnce(lua: LuaWasm, L: number, strip: boolean): Buffer | null {
    const ptr = this.writerFor(lua);
    this.parts = [];
    try {
      if (lua.lua_dump(L, ptr, null, strip ? 1 : 0) !== 0) return null;
      return Buffer.concat(this.parts);
    } finally {
      this.parts = [];
    }
  }

  /** One lua_Writer per worker (all states of a factory share the wasm module). */
  private writerFor(lua: LuaWasm): number {
    if (this.writer?.module === lua.module) return this.writer.ptr;
    const em = lua.module as unknown as EmscriptenFunctions;
    const ptr = em.addFunction((_L: number, p: number, size: number) => {
      this.parts.push(Buffer.from(rawModule(lua).HEAPU8.subarray(p, p + size)));
      return 0;
    }, 'iiiii');
    this.writer = { module: lua.module, ptr };
    return ptr;
  }
}

/**
 * A stripped dump (lua_dump with strip = 1) with the main function's source put back: the chunk
 * name is all the debug information the timeout hook and error messages need of Roost's own
 * chunks (nested functions inherit it when loaded). Lua 5.4's format (ldump.c): the header
 * (LUA_SIGNATURE, version, format, LUAC_DATA, three sizes, LUAC_INT, LUAC_NUM), one byte with the
 * main closure's upvalue count, then the main function, which starts with its source as a size
 * (7-bit groups, most significant first, the last one marked with 0x80; 0 for none) and bytes.
 * Null when the dump is not laid out that way (the caller keeps the unstripped dump then).
 */
export function withSourceName(stripped: Buffer, chunkName: string): Buffer | null {
  const intSize = stripped[13];
  const numSize = stripped[14];
  if (stripped.subarray(0, 4).toString('latin1') !== '\x1bLua' || intSize === undefined || numSize === undefined) return null;
  const at = 15 + intSize + numSize + 1;
  if (stripped[at] !== 0x80) return null; // not an absent source
  const name = Buffer.from(chunkName, 'utf8');
  const size: number[] = [];
  for (let x = name.length + 1; ; x = Math.floor(x / 128)) {
    size.unshift(x & 0x7f);
    if (x < 128) break;
  }
  size[size.length - 1]! |= 0x80;
  return Buffer.concat([stripped.subarray(0, at), Buffer.from(size), name, stripped.subarray(at + 1)]);
}
