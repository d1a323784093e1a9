// How a binding module (mail_user/mailbox/mail, auth request, push events) plugs into a state.
// A binding module is an ES module exporting `binding: LuaBindingModule`; the worker imports it
// by URL (LuaStateOptions.bindings) and calls `install` once per state, before script_init.
import type { LuaWasm } from 'wasmoon';
import type { LuaChunk } from './lua-chunks.js';
import type { LuaArg, LuaStateOptions, LuaValue } from './types.js';

/** JS functions called synchronously from Lua (inside the worker; may use the synchronous store, SyncUserStore). */
export type HostFunctions = Record<string, (...args: never[]) => unknown>;

export interface LuaBindingContext {
  readonly options: LuaStateOptions;
  readonly lua: LuaWasm;
  /** The lua_State pointer of the state's main thread. */
  readonly L: number;
  /**
   * Runs a Lua chunk (luaChunk('<file>.lua')) once, protected, under the state's limits. The chunk receives
   * `(internal, host, data)`: `internal` = the prelude's helpers (event metatables, check
   * helpers, `register_maker(name, fn)` for hook arguments), `host` = the given JS functions.
   * Throws an Error with the Lua message on failure.
   */
  runLua(chunk: LuaChunk, host: HostFunctions, data?: LuaArg): LuaValue[];
  /**
   * Registers a chunk the state loads and runs on first use, from Lua:
   * `internal.load_lazy(name, ...)` runs it with `(internal, host, data, ...)` (host functions
   * registered only then) and returns its results. The Lua side loads each name once.
   */
  defineLazy(name: string, chunk: LuaChunk, host?: HostFunctions, data?: LuaArg): void;
  /** Emits a log line like the script's events do (main thread's logHub). */
  log(level: 'Debug' | 'Info' | 'Warning' | 'Error', prefix: string, message: string): void;
}

export interface LuaBindingModule {
  /** Name used by `{ $binding: name, data }` hook arguments (see `register_maker`). */
  readonly name: string;
  install(ctx: LuaBindingContext, data: unknown): void;
  /**
   * Optional: turns a hook argument's `data` (as it crossed from the main thread) into what is
   * pushed to the binding's Lua maker, in the worker, right before the call. Lets the host side
   * keep JS data of its own (looked up again from Lua by a handle) instead of pushing it all.
   */
  prepareArg?(data: unknown): LuaArg;
}
