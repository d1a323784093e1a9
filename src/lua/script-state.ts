// One Lua state running one script for one session (spec §1), inside a worker thread.
// Lifecycle: create (load) → register `dovecot` + bindings → init (main chunk, script_init)
// → hook calls → close (script_deinit, lua_close).
import { LUA_REGISTRYINDEX, LuaEventMasks, LuaMultiReturn, type LuaFactory, type LuaWasm } from 'wasmoon';
import { LuaRuntime, rawHost, type HostFunction, type MemoryAccount } from './lua-runtime.js';
import { LAZY_CHUNK_FILES, luaChunk, type LuaChunk } from './lua-chunks.js';
import { isBindingArg, pushBytes, pushString, pushValue, rawModule, readBytes, readString, readValue } from './lua-stack.js';
import { skipShebang, type ScriptSourceCache } from './script-source.js';
import type { ChunkCache } from './chunk-cache.js';
import type { SyncHttpClient } from './http-sync.js';
import type { HostFunctions, LuaBindingContext, LuaBindingModule } from './binding.js';
import { SystemHost } from './stdlib/system-host.js';
import { UNRESTRICTED_POLICY, type LuaSystemPolicy } from './stdlib/policy.js';
import type { LuaArg, LuaFailurePhase, LuaLimits, LuaLogRecord, LuaStateOptions, LuaValue } from './types.js';

export class LuaScriptFailure extends Error {
  constructor(
    readonly phase: LuaFailurePhase,
    message: string,
  ) {
    super(message);
  }
}

export interface StateServices {
  factory: LuaFactory;
  sources: ScriptSourceCache;
  /** Bytecode of the prelude, binding chunks and scripts, shared by the worker's states. */
  chunks: ChunkCache;
  http: SyncHttpClient;
  log(record: LuaLogRecord): void;
  loadBinding(moduleUrl: string): Promise<LuaBindingModule>;
  /** What io/os/require may touch on the real system (lua_read_paths, ...); default unrestricted. */
  system?: LuaSystemPolicy;
}

/** The lazily loaded parts of the system libraries (src/lua/chunks/stdlib.lua). */
const SYSTEM_PARTS: Readonly<Record<string, string>> = { args: 'args.lua', system: 'system.lua', package: 'package.lua' };

/** Built-in equivalents of C modules (package.preload in stdlib.lua): module name → chunk file. */
const BUILTIN_MODULES: Readonly<Record<string, string>> = {
  cjson: 'cjson.lua',
  'cjson.safe': 'cjson.lua',
  ltn12: 'luasocket/ltn12.lua',
  'socket.url': 'luasocket/url.lua',
  'socket.http': 'socket-http.lua',
};

/** Instructions between two deadline checks of the count hook. */
const HOOK_INSTRUCTION_COUNT = 10000;
const LUA_MULTRET = -1;
const HTTP_DEFAULT_TIMEOUT_MS = 60_000;

interface EmscriptenFunctions {
  addFunction(fn: (...args: number[]) => number | void, signature: string): number;
}

/** The state whose Lua code runs now (a worker runs one call at a time): the count hook checks its deadline. */
let running: LuaScriptState | null = null;
/** One count hook per wasm module (adding a wasm function costs time and ~2 KB per state). */
const hookPointers = new WeakMap<object, number>();
/** A lua_Debug record per wasm module, for walking the stack after a timeout (sizeof is 120 on wasm32). */
const debugRecords = new WeakMap<object, number>();
const LUA_DEBUG_SIZE = 256;
/** A call running longer than this is throttled to RUN_SLICE_MS of every RUN_SLICE_MS + PAUSE_MS. */
const THROTTLE_AFTER_MS = 50;
const RUN_SLICE_MS = 1;
const PAUSE_MS = 9;
const pauseCell = new Int32Array(new SharedArrayBuffer(4));
/** Chunk names of Roost's own Lua (prelude, bindings): the timeout hook lets them finish. */
const ownChunkNames = new Set<string>();
/** Per worker runtime: the host function that replaces debug.sethook. */
const refuseSethook = new WeakMap<LuaRuntime, number>();

export class LuaScriptState {
  private readonly lua: LuaWasm;
  private readonly L: number;
  private readonly account: MemoryAccount;
  private readonly releaseAccount: () => void;
  /** Host functions registered for this state (unregistered after lua_close). */
  private readonly hostIds: number[] = [];
  private runnerRef = -1;
  /** The standard library's xpcall (registry reference), recognised on the stack after a timeout. */
  private xpcallRef = -1;
  /** The binding modules installed in this state that prepare their hook arguments, by binding name. */
  private argPreparers: Map<string, (data: unknown) => LuaArg> | undefined;
  /** Lazy chunks a binding module defined for this state (ctx.defineLazy), by name. */
  private lazyChunks: Map<string, { chunk: LuaChunk; host?: HostFunctions; data?: LuaArg }> | undefined;
  private deadline = Infinity;
  /** The deadline of the call in progress passed: every hook tick raises until the call returns. */
  private timedOut = false;
  private closed = false;
  private system: SystemHost | undefined;

  private constructor(
    private readonly rt: LuaRuntime,
    readonly options: LuaStateOptions,
    private readonly limits: LuaLimits,
    private readonly services: StateServices,
  ) {
    this.lua = rt.lua;
    const st = rt.newState();
    this.L = st.L;
    this.account = st.account;
    this.releaseAccount = st.release;
  }

  static async create(options: LuaStateOptions, limits: LuaLimits, services: StateServices): Promise<LuaScriptState> {
    const rt = LuaRuntime.of(await services.factory.getLuaModule());
    const state = new LuaScriptState(rt, options, limits, services);
    try {
      state.lua.luaL_openlibs(state.L);
      state.installHook();
      state.installStdlib();
      state.installPrelude();
      const chunkRef = state.loadScript();
      for (const spec of options.bindings ?? []) {
        const mod = await services.loadBinding(spec.module);
        mod.install(state.bindingContext(), spec.data);
        if (mod.prepareArg) (state.argPreparers ??= new Map()).set(mod.name, mod.prepareArg.bind(mod));
      }
      state.init(chunkRef);
      return state;
    } catch (e) {
      state.destroy(false);
      throw e;
    }
  }

  /**
   * Compiles the prelude and the lazily loaded parts of the API into the worker's chunk cache,
   * so that the first session on a new worker does not pay for parsing them.
   */
  static async warmUp(services: StateServices): Promise<void> {
    const rt = LuaRuntime.of(await services.factory.getLuaModule());
    const { lua } = rt;
    const st = rt.newState();
    try {
      const chunks = ['prelude.lua', ...Object.values(LAZY_CHUNK_FILES)].map(luaChunk);
      for (const { source, chunkName } of chunks) {
        if (services.chunks.get(source, chunkName)) continue;
        const code = Buffer.from(source, 'utf8');
        const m = rawModule(lua);
        const ptr = m._malloc(code.length + 1);
        let status: number;
        try {
          m.HEAPU8.set(code, ptr);
          status = lua.luaL_loadbufferx(st.L, ptr, code.length, chunkName, 't');
        } finally {
          m._free(ptr);
        }
        if (status === 0) {
          ownChunkNames.add(chunkName);
          const dumped = services.chunks.dump(lua, st.L, { chunkName });
          if (dumped) services.chunks.set(source, chunkName, dumped);
        }
        lua.lua_settop(st.L, 0);
      }
    } finally {
      lua.lua_close(st.L);
      st.release();
    }
  }

  /** Calls a global function (spec §1.4); returns exactly `nresults` values. */
  callHook(name: string, args: LuaArg[], nresults: number, fullGc = false): LuaValue[] {
    const mask = args.map((a) => (isBindingArg(a) ? '1' : '0')).join('');
    try {
      const res = this.runRunner('call', () => {
        pushString(this.lua, this.L, name);
        this.lua.lua_pushinteger(this.L, BigInt(nresults));
        pushString(this.lua, this.L, mask);
        for (const a of args) {
          pushValue(this.lua, this.L, a, (b) => {
            this.lua.lua_createtable(this.L, 0, 2);
            pushString(this.lua, this.L, b.$binding);
            this.lua.lua_setfield(this.L, -2, 'name');
            const prepare = this.argPreparers?.get(b.$binding);
            pushValue(this.lua, this.L, prepare ? prepare(b.data) : (b.data as LuaArg), () => this.lua.lua_pushnil(this.L));
            this.lua.lua_setfield(this.L, -2, 'data');
          });
        }
        return 3 + args.length;
      });
      if (res[0] !== true) throw new LuaScriptFailure('call', String(res[1]));
      return res.slice(1, 1 + nresults).concat(Array(Math.max(0, nresults + 1 - res.length)).fill(null));
    } finally {
      this.runRunner('end_call', () => 0);
      if (fullGc) this.fullGc();
    }
  }

  /** Raw lookup in _G, type function (spec §1.4 last paragraph). */
  hasFunction(name: string): boolean {
    const res = this.runRunner('has_function', () => {
      pushString(this.lua, this.L, name);
      return 1;
    });
    return res[0] === true;
  }

  /** script_deinit (errors logged, spec §1.3), then lua_close so __gc metamethods run. */
  close(): void {
    this.destroy(true);
  }

  memoryUsed(): number {
    return this.account.used;
  }

  // ---- internals ----

  private destroy(runDeinit: boolean): void {
    if (this.closed) return;
    this.closed = true;
    if (runDeinit && this.runnerRef >= 0) {
      try {
        const res = this.runRunner('deinit', () => 0);
        if (res[0] !== true) this.log('Error', this.options.logPrefix, String(res[1]));
      } catch (e) {
        this.log('Error', this.options.logPrefix, `script_deinit() failed: ${(e as Error).message}`);
      }
    }
    const previous = running;
    try {
      running = this;
      this.deadline = Date.now() + this.limits.callTimeoutMs;
      this.lua.lua_close(this.L);
    } finally {
      this.deadline = Infinity;
      running = previous;
      this.rt.unregister(this.hostIds);
      this.releaseAccount();
      this.system?.dispose();
    }
  }

  private fullGc(): void {
    this.runRunner('gc', () => 0);
  }

  /** luaL_loadbufferx on a copy in the wasm heap (binary-safe); pushes the chunk or the error. */
  private loadChunk(code: Buffer, chunkName: string, mode: string | null, L = this.L): number {
    const m = rawModule(this.lua);
    const ptr = m._malloc(code.length + 1);
    try {
      m.HEAPU8.set(code, ptr);
      return this.lua.luaL_loadbufferx(L, ptr, code.length, chunkName, mode);
    } finally {
      m._free(ptr);
    }
  }

  /**
   * Like loadChunk, but through the worker's bytecode cache: the first state parses `source()`
   * and dumps the function, later ones load that bytecode. Failures are never cached.
   */
  private loadCached(key: string | Buffer, source: () => Buffer, chunkName: string, mode: string | null, L = this.L): number {
    if (chunkName !== `@${this.options.scriptPath}`) ownChunkNames.add(chunkName);
    const cache = this.services.chunks;
    const bytecode = cache.get(key, chunkName);
    if (bytecode) return this.loadChunk(bytecode, chunkName, 'b', L);
    const status = this.loadChunk(source(), chunkName, mode, L);
    if (status === 0) {
      const dumped = cache.dump(this.lua, L, ownChunkNames.has(chunkName) ? { chunkName } : undefined);
      if (dumped) cache.set(key, chunkName, dumped);
    }
    return status;
  }

  /** Loads one of Roost's own chunks (src/lua/chunks/) through the bytecode cache. */
  private loadLuaChunk(chunk: LuaChunk, L = this.L): number {
    return this.loadCached(chunk.source, () => Buffer.from(chunk.source, 'utf8'), chunk.chunkName, 't', L);
  }

  /**
   * Count hook checking a wall-clock deadline: a Lua error when lua_call_timeout has passed.
   * The error must not be catchable: once the deadline has passed, the hook of the thread it
   * fires in drops to every instruction and raises again on each one, in the script's own
   * coroutines too (lua_newthread copies the hook, so they have it), until control is back in
   * the runner functions of the prelude that report the error to the host. A `pcall`, `xpcall`
   * or `coroutine.resume` around a loop catches one raise, and the next instruction of the
   * code around it raises again, so the call unwinds level by level.
   */
  private installHook(): void {
    let ptr = hookPointers.get(this.lua.module);
    if (ptr === undefined) {
      ptr = (this.lua.module as unknown as EmscriptenFunctions).addFunction((L: number, ar: number) => running?.onCountHook(L, ar), 'vii');
      hookPointers.set(this.lua.module, ptr);
    }
    this.hookPtr = ptr;
    this.lua.lua_sethook(this.L, ptr, LuaEventMasks.Count, HOOK_INSTRUCTION_COUNT);
    // debug.sethook would replace this hook and with it the time limit.
    let refuse = refuseSethook.get(this.rt);
    if (refuse === undefined) {
      refuse = this.rt.register(() => {
        throw new Error('debug.sethook is not available: Roost uses the debug hook to enforce lua_call_timeout');
      });
      refuseSethook.set(this.rt, refuse);
    }
    if (this.lua.lua_getglobal(this.L, 'debug') === 5) {
      this.rt.pushHost(this.L, refuse);
      this.lua.lua_setfield(this.L, -2, 'sethook');
    }
    this.lua.lua_settop(this.L, -2);
    this.lua.lua_getglobal(this.L, 'xpcall');
    this.xpcallRef = this.lua.luaL_ref(this.L, LUA_REGISTRYINDEX);
  }

  private hookPtr = 0;
  /** When the call in progress started, and when it last paused (throttling of long calls). */
  private callStarted = 0;
  private lastPause = 0;
  /** runRunner is running a runner function (not lua_close's finalizers). */
  private runnerActive = false;
  /** lua_memory_limit while the hook raises the timeout as a memory error (see onCountHook). */
  private limitBeforeRaise: number | undefined | null = null;

  private onCountHook(L: number, ar: number): void {
    const lua = this.lua;
    if (!this.timedOut) {
      const now = Date.now();
      if (now <= this.deadline) {
        // A thread left at one instruction per tick by an earlier call's timeout goes back to normal.
        if (lua.lua_gethookcount(L) !== HOOK_INSTRUCTION_COUNT) lua.lua_sethook(L, this.hookPtr, LuaEventMasks.Count, HOOK_INSTRUCTION_COUNT);
        // A call that runs long (a loop, until lua_call_timeout) gets a tenth of a core: on a
        // machine with few cores, looping scripts must not take the CPU other users' logins need.
        if (now - this.callStarted > THROTTLE_AFTER_MS && now - this.lastPause >= RUN_SLICE_MS) {
          Atomics.wait(pauseCell, 0, 0, PAUSE_MS);
          this.lastPause = Date.now();
        }
        return;
      }
      this.timedOut = true;
    }
    if (lua.lua_gethookcount(L) !== 1) lua.lua_sethook(L, this.hookPtr, LuaEventMasks.Count, 1);
    if (this.limitBeforeRaise !== null) {
      // The memory error raised at the previous tick is delivered: the real limit is back.
      this.account.max = this.limitBeforeRaise;
      this.limitBeforeRaise = null;
    }
    // The checks and the message need a little memory: not counted against lua_memory_limit.
    const max = this.account.max;
    this.account.max = undefined;
    let viaMemoryError: boolean;
    try {
      if (this.inOwnCode(L, ar)) return;
      viaMemoryError = this.luaHandlerActive(L);
      if (!viaMemoryError) pushString(lua, L, `Lua script exceeded lua_call_timeout (${this.limits.callTimeoutMs} ms)`);
    } finally {
      this.account.max = max;
    }
    if (!viaMemoryError) return void lua.lua_error(L);
    // lua_error would call the xpcall's message handler from inside this hook, where hooks are
    // off: a handler that loops could never be stopped. A memory error skips message handlers
    // (Lua 5.4 ldo.c), so raise one by refusing the next allocation; the host reports it as the
    // timeout (runRunner), and the code around the xpcall raises the timeout proper.
    this.limitBeforeRaise = max;
    this.account.max = 1; // refuses any growth, even after the emergency collection
    this.account.timeoutRaise = true;
    lua.lua_createtable(L, 64, 0);
  }

  /**
   * Is an `xpcall` with a Lua message handler on this thread's stack? Its slot 2 is the handler
   * (lbaselib.c luaB_xpcall). The runner's own xpcalls use debug.traceback, a C function.
   */
  private luaHandlerActive(L: number): boolean {
    const lua = this.lua;
    const ar = this.debugRecord();
    const top = lua.lua_gettop(L);
    try {
      for (let level = 0; lua.lua_getstack(L, level, ar); level++) {
        lua.lua_getinfo(L, 'f', ar);
        lua.lua_rawgeti(L, LUA_REGISTRYINDEX, BigInt(this.xpcallRef));
        const isXpcall = lua.lua_rawequal(L, -1, -2) === 1;
        lua.lua_settop(L, top);
        if (!isXpcall) continue;
        if (!lua.lua_getlocal(L, ar, 2)) continue;
        const luaHandler = lua.lua_type(L, -1) === 6 && !lua.lua_iscfunction(L, -1);
        lua.lua_settop(L, top);
        if (luaHandler) return true;
      }
      return false;
    } finally {
      lua.lua_settop(L, top);
    }
  }

  /**
   * Is the hook firing in Roost's own Lua (the prelude's runner, a binding's code), which reports
   * the script's error and must run to its end? Told by the function's chunk name (lua_getinfo
   * "S"; lua_Debug.source is at offset 16 on wasm32). A script could name a chunk of its own like
   * ours with load() and so escape the hook on purpose, as it can with a C function that never
   * returns: the watchdog remains for those.
   */
  private inOwnCode(L: number, ar: number): boolean {
    if (!this.runnerActive || !this.lua.lua_getinfo(L, 'S', ar)) return false;
    const heap = rawModule(this.lua).HEAPU8;
    const ptr = new DataView(heap.buffer, heap.byteOffset).getUint32(ar + 16, true);
    if (!ptr) return false;
    const end = heap.indexOf(0, ptr);
    return ownChunkNames.has(Buffer.from(heap.buffer, heap.byteOffset + ptr, end - ptr).toString('latin1'));
  }

  private debugRecord(): number {
    let ar = debugRecords.get(this.lua.module);
    if (ar === undefined) {
      ar = rawModule(this.lua)._malloc(LUA_DEBUG_SIZE);
      debugRecords.set(this.lua.module, ar);
    }
    return ar;
  }

  /**
   * io, os, loadfile/dofile and package on the real system: stdlib.lua installs stubs; the first
   * use loads a part (SYSTEM_PARTS) through `load_system(name)`.
   */
  private installStdlib(): void {
    const { lua, L } = this;
    // load_system(name): the chunk of a part, plus the host table and load_builtin the first time
    const loadSystem = rawHost((L2: number) => {
      const file = SYSTEM_PARTS[readString(lua, L2, 1)];
      if (file === undefined) {
        pushString(lua, L2, 'unknown part');
        return lua.lua_error(L2);
      }
      const chunk = luaChunk(file);
      if (this.loadLuaChunk(chunk, L2) !== 0) return lua.lua_error(L2);
      if (this.system) return 1;
      this.system = new SystemHost({
        lua,
        policy: this.services.system ?? UNRESTRICTED_POLICY,
        memoryLimitBytes: this.limits.memoryLimitBytes,
        remainingMs: () => this.deadline - Date.now(),
        loadChunk: (L3, code, chunkName, mode) => this.loadChunk(code, chunkName, mode, L3),
      });
      this.pushLazyHostTable(
        {
          ...this.system.functions(),
          http_check_url: (url: string) => checkUrl(url),
          http_submit: rawHost((L3: number) => this.httpSubmit(L3)),
        },
        L2,
      );
      this.pushHost(L2, loadBuiltin);
      return 3;
    });
    // load_builtin(name): the chunk of a built-in module, called as chunk(H, name, ...)
    const loadBuiltin = rawHost((L2: number) => {
      const file = BUILTIN_MODULES[readString(lua, L2, 1)];
      if (file === undefined) {
        pushString(lua, L2, 'unknown built-in module');
        return lua.lua_error(L2);
      }
      const chunk = luaChunk(file);
      if (this.loadLuaChunk(chunk, L2) !== 0) return lua.lua_error(L2);
      return 1;
    });
    const chunk = luaChunk('stdlib.lua');
    if (this.loadLuaChunk(chunk) !== 0) {
      throw new LuaScriptFailure('load', `stdlib: ${readString(lua, L, -1)}`);
    }
    this.pushHost(L, loadSystem);
    if (lua.lua_pcallk(L, 1, 0, 0, 0, null) !== 0) {
      throw new LuaScriptFailure('load', `stdlib: ${readString(lua, L, -1)}`);
    }
  }

  /** Pushes one host function of this state. */
  private pushHost(L: number, fn: HostFunction): void {
    const id = this.rt.register(fn);
    this.hostIds.push(id);
    this.rt.pushHost(L, id);
  }

  private installPrelude(): void {
    const { lua, L } = this;
    const hostTable: HostFunctions = {
      log: (level: string, prefix: string, message: string, forced: boolean, fields: Record<string, unknown> | null) =>
        this.emitLog(level, prefix, message, forced, fields),
      http_check_url: (url: string) => checkUrl(url),
      http_submit: rawHost((L: number) => this.httpSubmit(L)),
      // H.load_lazy(name): the compiled chunk of a part of the API loaded on first use, plus
      // the host functions and data of a binding module's lazy chunk (ctx.defineLazy).
      load_lazy: rawHost((L: number) => {
        const name = lua.lua_tolstring(L, 1, null);
        const own = this.lazyChunks?.get(name);
        const file = LAZY_CHUNK_FILES[name];
        const chunk = own?.chunk ?? (file !== undefined ? luaChunk(file) : undefined);
        if (!chunk) {
          pushString(lua, L, 'unknown lazy chunk');
          return lua.lua_error(L);
        }
        if (this.loadLuaChunk(chunk, L) !== 0) return lua.lua_error(L);
        if (!own) return 1;
        if (own.host) this.pushHostTable(own.host, L);
        else lua.lua_pushnil(L);
        pushValue(lua, L, own.data ?? null, () => lua.lua_pushnil(L));
        return 3;
      }),
    };
    const prelude = luaChunk('prelude.lua');
    if (this.loadLuaChunk(prelude) !== 0) {
      throw new LuaScriptFailure('load', `prelude: ${readString(lua, L, -1)}`);
    }
    this.pushHostTable(hostTable);
    pushString(lua, L, this.options.context);
    pushString(lua, L, this.options.logPrefix);
    pushString(lua, L, this.options.processLogPrefix ?? this.options.logPrefix);
    lua.lua_pushboolean(L, this.options.debug ? 1 : 0);
    if (lua.lua_pcallk(L, 5, 1, 0, 0, null) !== 0) {
      throw new LuaScriptFailure('load', `prelude: ${readString(lua, L, -1)}`);
    }
    this.runnerRef = lua.luaL_ref(L, LUA_REGISTRYINDEX);
    const base = this.options.scriptPath.split('/').pop() ?? this.options.scriptPath;
    this.runRunner('set_script_name', () => (pushString(lua, L, base), 1));
  }

  /** Compiles the file (spec §1.1) and keeps the chunk in the registry. */
  private loadScript(): number {
    const { lua, L } = this;
    const path = this.options.scriptPath;
    const read = this.services.sources.read(path);
    if (!read.ok) throw new LuaScriptFailure('load', read.error);
    const status = this.loadCached(read.source, () => skipShebang(read.source), `@${path}`, null);
    if (status !== 0) {
      const msg = readString(lua, L, -1);
      lua.lua_settop(L, -2);
      throw new LuaScriptFailure('load', `lua_load(${path}) failed: ${msg}`);
    }
    return lua.luaL_ref(L, LUA_REGISTRYINDEX);
  }

  /** Main chunk with traceback handler, then script_init (spec §1.2). */
  private init(chunkRef: number): void {
    const main = this.runRunner('run_main', () => {
      this.lua.lua_rawgeti(this.L, LUA_REGISTRYINDEX, BigInt(chunkRef));
      pushString(this.lua, this.L, this.options.scriptPath);
      return 2;
    });
    this.lua.luaL_unref(this.L, LUA_REGISTRYINDEX, chunkRef);
    if (main[0] !== true) throw new LuaScriptFailure('init', String(main[1]));
    const init = this.runRunner('init', () => 0);
    if (init[0] !== true) throw new LuaScriptFailure('init', String(init[1]));
  }

  /**
   * Calls `R[fn]` protected, with the memory limit and the deadline armed. Host-side pushes
   * happen with the limit lifted: an allocation failure outside a protected call would abort.
   */
  private runRunner(fn: string, pushArgs: () => number): LuaValue[] {
    if (this.closed && fn !== 'deinit') throw new LuaScriptFailure('lost', 'Lua state is closed');
    const { lua, L } = this;
    const account = this.account;
    account.max = undefined;
    const top = lua.lua_gettop(L);
    lua.lua_rawgeti(L, LUA_REGISTRYINDEX, BigInt(this.runnerRef));
    lua.lua_getfield(L, -1, fn);
    lua.lua_remove(L, -2);
    const nargs = pushArgs();
    account.max = Math.max(this.limits.memoryLimitBytes, account.used + 64 * 1024);
    this.callStarted = this.lastPause = Date.now();
    this.deadline = this.callStarted + this.limits.callTimeoutMs;
    const previous = running;
    running = this;
    let status: number;
    account.refused = false;
    const outer = this.runnerActive;
    this.runnerActive = true;
    try {
      status = lua.lua_pcallk(L, nargs, LUA_MULTRET, 0, 0, null);
    } finally {
      this.runnerActive = outer;
      running = previous;
      this.deadline = Infinity;
      this.timedOut = false;
      this.limitBeforeRaise = null;
      account.max = undefined;
    }
    const timeoutRaised = account.timeoutRaise === true;
    account.timeoutRaise = false;
    if (timeoutRaised) account.refused = false;
    const refused = account.refused;
    if (refused) {
      // What the failed call allocated is garbage now: give it back before the next call.
      account.refused = false;
      lua.lua_rawgeti(L, LUA_REGISTRYINDEX, BigInt(this.runnerRef));
      lua.lua_getfield(L, -1, 'gc');
      if (lua.lua_pcallk(L, 0, 0, 0, 0, null) !== 0) lua.lua_settop(L, -2);
      lua.lua_settop(L, -2);
    }
    if (status !== 0) {
      const msg = lua.lua_type(L, -1) === 4 ? readString(lua, L, -1) : 'unknown Lua error';
      lua.lua_settop(L, top);
      throw new LuaScriptFailure('call', this.fixMessage(msg, refused, timeoutRaised));
    }
    const out: LuaValue[] = [];
    for (let i = top + 1; i <= lua.lua_gettop(L); i++) {
      const v = readValue(lua, L, i);
      out.push(typeof v === 'string' ? this.fixMessage(v, refused, timeoutRaised) : v);
    }
    lua.lua_settop(L, top);
    return out;
  }

  /**
   * Lua's "not enough memory" after the allocator refused: say which limit it was; after the
   * timeout was raised as a memory error (onCountHook), say it was the timeout.
   */
  private fixMessage(message: string, refused: boolean, timeoutRaised: boolean): string {
    if (timeoutRaised && message.includes('not enough memory')) {
      return message.replace('not enough memory', `Lua script exceeded lua_call_timeout (${this.limits.callTimeoutMs} ms)`);
    }
    if (!refused) return message;
    return message.replace('not enough memory', `not enough memory (lua_memory_limit ${this.limits.memoryLimitBytes} bytes reached)`);
  }

  private bindingContext(): LuaBindingContext {
    return {
      options: this.options,
      lua: this.lua,
      L: this.L,
      log: (level, prefix, message) => this.log(level, prefix, message),
      defineLazy: (name, chunk, host, data) => {
        (this.lazyChunks ??= new Map()).set(name, { chunk, host, data });
      },
      runLua: (chunk, host, data) => {
        const { lua, L } = this;
        const status = this.loadLuaChunk(chunk);
        if (status !== 0) {
          const msg = readString(lua, L, -1);
          lua.lua_settop(L, -2);
          throw new Error(msg);
        }
        const chunkRef = lua.luaL_ref(L, LUA_REGISTRYINDEX);
        try {
          const res = this.runRunner('run_binding', () => {
            lua.lua_rawgeti(L, LUA_REGISTRYINDEX, BigInt(chunkRef));
            this.pushHostTable(host);
            pushValue(lua, L, data ?? null, () => lua.lua_pushnil(L));
            return 3;
          });
          if (res[0] !== true) throw new Error(String(res[1]));
          return res.slice(1);
        } finally {
          lua.luaL_unref(L, LUA_REGISTRYINDEX, chunkRef);
        }
      },
    };
  }

  /**
   * Like pushHostTable, but each function is pushed on its first lookup (an __index metamethod
   * over the names): a session that writes a file uses 4 of the system library's 21.
   * The table is Roost's own (never visible to scripts), and only ever indexed by name.
   */
  private pushLazyHostTable(host: HostFunctions, L: number): void {
    const { lua, rt } = this;
    lua.lua_createtable(L, 0, 4);
    lua.lua_createtable(L, 0, 1);
    this.pushHost(
      L,
      rawHost((L2: number) => {
        // __index(t, k): pushes, stores in t (later lookups are plain) and returns the function.
        const name = lua.lua_type(L2, 2) === 4 ? readString(lua, L2, 2) : undefined;
        const fn = name !== undefined && Object.hasOwn(host, name) ? host[name] : undefined;
        if (!fn) {
          lua.lua_pushnil(L2);
          return 1;
        }
        const id = rt.register(fn);
        this.hostIds.push(id);
        rt.pushHost(L2, id);
        lua.lua_pushvalue(L2, 2);
        lua.lua_pushvalue(L2, -2);
        lua.lua_rawset(L2, 1);
        return 1;
      }),
    );
    lua.lua_setfield(L, -2, '__index');
    lua.lua_setmetatable(L, -2);
  }

  /** A table of host functions (closures over the worker's shared trampoline). */
  private pushHostTable(host: HostFunctions, L = this.L): void {
    const { lua, rt } = this;
    const names = Object.keys(host);
    lua.lua_createtable(L, 0, names.length);
    for (const name of names) {
      const id = rt.register(host[name]!);
      this.hostIds.push(id);
      rt.pushHost(L, id);
      lua.lua_setfield(L, -2, name);
    }
  }

  private emitLog(level: string, prefix: string, message: string, forced: boolean, fields: Record<string, unknown> | null): void {
    const flat: Record<string, string | number> = {};
    if (fields && typeof fields === 'object') {
      for (const [k, v] of Object.entries(fields)) {
        if (typeof v === 'string' || typeof v === 'number') flat[k] = v;
      }
    }
    if (forced || (level === 'Debug' && this.options.debug)) flat.forced = 1;
    this.services.log({ level: level as LuaLogRecord['level'], prefix, message, fields: flat });
  }

  private log(level: LuaLogRecord['level'], prefix: string, message: string): void {
    this.services.log({ level, prefix, message });
  }

  /**
   * H.http_submit(method, url, header_lines, payload, timeout, connect_timeout, absolute_timeout,
   * user_agent, proxy_url, max_redirects) → status, reason, header_lines, body. Payload and body
   * are bytes (Lua strings are byte strings; Dovecot's http-client never decodes them).
   */
  private httpSubmit(L: number): number {
    const lua = this.lua;
    const text = (i: number) => (lua.lua_type(L, i) === 4 ? readString(lua, L, i) : '');
    const num = (i: number) => (lua.lua_type(L, i) === 3 ? lua.lua_tonumberx(L, i, null) : -1);
    const [method, url, headerText] = [text(1), text(2), text(3)];
    const payload = lua.lua_type(L, 4) === 4 ? readBytes(lua, L, 4) : Buffer.alloc(0);
    const [timeout, connectTimeout, absTimeout] = [num(5), num(6), num(7)];
    const [userAgent, proxyUrl, maxRedirects] = [text(8), text(9), num(10)];
    const headers: Array<[string, string]> = [];
    for (const line of headerText.split('\n')) {
      const i = line.indexOf(': ');
      if (i > 0) headers.push([line.slice(0, i), line.slice(i + 2)]);
    }
    if (userAgent && !headers.some(([k]) => k.toLowerCase() === 'user-agent')) headers.push(['User-Agent', userAgent]);
    const pick = (v: number) => (v > 0 ? v : undefined);
    const timeoutMs = Math.min(pick(timeout) ?? HTTP_DEFAULT_TIMEOUT_MS, pick(absTimeout) ?? Infinity);
    const left = this.deadline === Infinity ? timeoutMs : this.deadline - Date.now();
    const res = this.services.http.request(
      {
        method,
        url,
        headers,
        payload,
        ...(proxyUrl ? { proxyUrl } : {}),
        timeoutMs,
        connectTimeoutMs: pick(connectTimeout) ?? 0,
        maxRedirects: Math.max(0, maxRedirects),
      },
      Math.max(0, left),
    );
    const headerLines = res.headers.map(([k, v]) => `${k}: ${v}`).join('\n');
    lua.lua_pushinteger(L, BigInt(res.status));
    pushString(lua, L, res.reason);
    pushString(lua, L, headerLines);
    pushBytes(lua, L, res.body);
    return 4;
  }
}

/** '' when the URL is acceptable for the HTTP client, else the parse error. */
function checkUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return `Invalid scheme '${u.protocol.replace(/:$/, '')}'`;
    return '';
  } catch {
    return 'Invalid URL';
  }
}
