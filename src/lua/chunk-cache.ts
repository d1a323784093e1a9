// Compiled Lua chunks shared by the states of one worker thread. The prelude and the binding
// chunks are parsed once per worker; later states load their bytecode (lua_dump, then
// luaL_loadbufferx in mode 'b'), which is several times faster than parsing and yields smaller
// prototypes. Debug information is kept, so error positions and tracebacks are unchanged.
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

  /** lua_dump of the Lua function on top of the stack (left there), with debug information. */
  dump(lua: LuaWasm, L: number): Buffer | null {
    const ptr = this.writerFor(lua);
    this.parts = [];
    try {
      if (lua.lua_dump(L, ptr, null, 0) !== 0) return null;
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
