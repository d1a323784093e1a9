// Types shared by the main thread (pool, handles) and the Lua worker threads.
// Everything here crosses a worker boundary, so it must survive structured clone.

/** Which Dovecot component the script belongs to; decides `dovecot.storage` vs `dovecot.auth`. */
export type LuaScriptContext = 'mail' | 'auth' | 'push';

/**
 * A Lua value as seen from JavaScript. Lua integers are `bigint`, Lua floats are `number`
 * (Dovecot distinguishes them, spec §14). Tables keep their key/value pairs in `next` order.
 */
export type LuaValue = null | boolean | number | bigint | string | LuaTableValue | LuaOpaqueValue;

export interface LuaTableValue {
  luaType: 'table';
  entries: Array<[LuaValue, LuaValue]>;
}

/** A function, userdata or thread: not convertible, only its type is reported. */
export interface LuaOpaqueValue {
  luaType: 'function' | 'userdata' | 'thread' | 'cycle';
}

/** A value built inside the worker by a binding module (e.g. a `struct mail_user` object). */
export interface LuaBindingArg {
  $binding: string;
  data: unknown;
}

/** Arguments for hooks: plain values (arrays/objects become tables) or binding-built objects. */
export type LuaArg = LuaValue | LuaBindingArg | LuaArg[] | { [key: string]: LuaArg };

export interface LuaLimits {
  /** `lua_call_timeout`: wall-clock limit per call into Lua (main chunk, script_init, hooks), ms. */
  callTimeoutMs: number;
  /** `lua_memory_limit`: bytes of Lua heap per state. */
  memoryLimitBytes: number;
}

export const DEFAULT_LUA_LIMITS: LuaLimits = {
  callTimeoutMs: 5000,
  memoryLimitBytes: 64 * 1024 * 1024,
};

/** A binding module loaded in the worker: `module` is a URL/path importable from the worker. */
export interface LuaBindingSpec {
  module: string;
  /** Data handed to the module's `install` (e.g. user fields, database path). */
  data?: unknown;
}

export interface LuaStateOptions {
  /** Absolute path of the Lua script file. */
  scriptPath: string;
  context: LuaScriptContext;
  /** Prefix of the session event, e.g. `imap(alice)<4242><Fq3bW9AP>: `. Script events inherit it. */
  logPrefix: string;
  /** Prefix used by `dovecot.i_*` (Dovecot logs those through the process-global logger). Default: logPrefix. */
  processLogPrefix?: string;
  /** mail_debug / auth_debug: lets `event:log_debug` through. */
  debug?: boolean;
  limits?: Partial<LuaLimits>;
  bindings?: LuaBindingSpec[];
}

/** Where a script failure happened; the caller picks Dovecot's wrapping text from it. */
export type LuaFailurePhase = 'load' | 'init' | 'call' | 'deinit' | 'lost';

export interface LuaFailure {
  phase: LuaFailurePhase;
  message: string;
}

/** Log line produced inside a worker, re-emitted on the main thread's logHub. */
export interface LuaLogRecord {
  level: 'Debug' | 'Info' | 'Warning' | 'Error';
  prefix: string;
  message: string;
  fields?: Record<string, string | number>;
  /** Date.now() in the worker when the line was produced. */
  time?: number;
}

// ---- worker protocol ----

/** A hook call as the worker runs it (see LuaStateHandle.callHook). */
export interface HookCall {
  name: string;
  args: LuaArg[];
  nresults: number;
  fullGc: boolean;
  /** Resolve null instead of calling when `name` is not a global function (saves a hasFunction round trip). */
  ifDefined?: boolean;
}

/** Outcome of a hook call folded into a create/close request: never a rejection of the request. */
export type HookOutcome = { ok: true; result: LuaValue[] | null } | { ok: false; failure: LuaFailure };

export type WorkerRequest =
  | {
      id: number;
      op: 'create';
      stateId: number;
      options: LuaStateOptions;
      defaults: LuaLimits;
      /**
       * Then call this hook in the same round trip and close the state again unless it ran and
       * its first result is >= 0 (mail-lua's convention, spec §5.2 steps 4-5). The reply is a
       * CreateAndCallResult instead of null.
       */
      then?: HookCall;
      /**
       * Then look these names up (raw lookup in _G, type function) in the same round trip; the
       * reply is a CreateAndProbeResult instead of null. Not with `then`.
       */
      probe?: string[];
      /**
       * With `then`: when the hook did not fail (it is missing, or its first result is >= 0),
       * create a second state on this worker in the same round trip and look up `probe` in it
       * (the push-notification driver's own state, created right after mail-lua's, spec §12.1).
       * The reply's `companion` tells how that went; its log records are the reply's second step
       * (`logSteps`).
       */
      companion?: { stateId: number; options: LuaStateOptions; probe: string[] };
    }
  | ({
      id: number;
      op: 'call';
      stateId: number;
      /** Close the state after the call (script_deinit, lua_close); the reply is a CallAndCloseResult. */
      close?: boolean;
    } & HookCall)
  | {
      id: number;
      /**
       * Several hook calls on one state in one round trip, each run whatever the outcome of the
       * one before, then the close when `close` is set; the reply is a CallSequenceResult, and
       * `logSteps` tells where each call's (and the close's) log records begin.
       */
      op: 'callSequence';
      stateId: number;
      calls: HookCall[];
      close: boolean;
    }
  | { id: number; op: 'hasFunction'; stateId: number; name: string }
  | { id: number; op: 'close'; stateId: number }
  | { id: number; op: 'stats' };

export interface CreateAndCallResult {
  call: HookOutcome;
  /** The state was closed again (hook missing, failed or returned < 0). */
  closed: boolean;
  /** lua_close failed (the state is gone anyway). */
  closeError?: string;
  /** The request's companion state: created (with its probe's answers), failed, or not tried. */
  companion?: { ok: true; defined: boolean[] } | { ok: false; failure: LuaFailure };
}

export interface CreateAndProbeResult {
  /** For each name of the request's `probe`: whether it is a global function. */
  defined: boolean[];
}

export interface CallSequenceResult {
  calls: HookOutcome[];
  closeError?: string;
}

export interface CallAndCloseResult {
  call: HookOutcome;
  closeError?: string;
}

/** Memory of one worker (bench/lua.ts): its wasm heap is shared by all its Lua states. */
export interface LuaWorkerStats {
  states: number;
  /** Size of the worker's WebAssembly memory (only grows). */
  wasmHeapBytes: number;
  /** Sum of the Lua allocator's live bytes over the worker's states. */
  luaBytes: number;
}

/**
 * Worker to main thread. A log record produced while a request runs carries the request's id:
 * the pool holds it until the reply (or the loss of the worker) and emits the request's records
 * in order then, so a request combining several steps (create + hook, hook + close) still lets
 * the caller log its own lines between the steps' lines (`deferLogsFrom`: records from this
 * index on belong to the last step and are handed to the caller instead of being emitted).
 */
export type WorkerMessage =
  | { kind: 'reply'; id: number; ok: true; result: unknown; deferLogsFrom?: number; logSteps?: number[] }
  | { kind: 'reply'; id: number; ok: false; failure: LuaFailure }
  /** A request offered to this busy worker that another worker took meanwhile (pool.ts, offer()). */
  | { kind: 'skipped'; id: number }
  | { kind: 'log'; id?: number; record: LuaLogRecord }
  /**
   * The worker has its Lua module loaded (sent once, after start-up). `tid`: its thread's id
   * on Linux, for the pool to read how long its calls waited for a CPU (pool.ts, RunQueueClock).
   */
  | { kind: 'ready'; tid?: number };
