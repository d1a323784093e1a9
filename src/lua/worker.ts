// Entry of a Lua worker thread: one wasmoon factory, many Lua states (one per session).
// Requests come from pool.ts; log records are forwarded to the main thread's logHub.
import { readlinkSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { CLAIM_FREE, CLAIM_RUN } from './claims.js';
import { LuaFactory } from 'wasmoon';
import type { LuaBindingModule } from './binding.js';
import { ChunkCache } from './chunk-cache.js';
import { SyncHttpClient } from './http-sync.js';
import { LuaScriptFailure, LuaScriptState, type StateServices } from './script-state.js';
import { ScriptSourceCache } from './script-source.js';
import { rawModule } from './lua-stack.js';
import { luaToNumber } from './lua-convert.js';
import type { LuaSystemPolicy } from './stdlib/policy.js';
import type {
  CallAndCloseResult,
  CallSequenceResult,
  CreateAndCallResult,
  CreateAndProbeResult,
  HookCall,
  HookOutcome,
  LuaFailure,
  LuaLimits,
  LuaLogRecord,
  LuaStateOptions,
  LuaValue,
  LuaWorkerStats,
  WorkerMessage,
  WorkerRequest,
} from './types.js';

if (!parentPort) throw new Error('worker.ts must run in a worker thread');
const port = parentPort;
/** The pool's claim cells (pool.ts, offer()): who runs a request offered to a busy worker. */
const claimBuffer = (workerData as { claims?: SharedArrayBuffer } | null)?.claims;
const claims = claimBuffer ? new Int32Array(claimBuffer) : null;

const bindingModules = new Map<string, Promise<LuaBindingModule>>();
async function loadBinding(url: string): Promise<LuaBindingModule> {
  let p = bindingModules.get(url);
  if (!p) {
    p = import(url).then((m: { binding?: LuaBindingModule }) => {
      if (!m.binding) throw new Error(`${url} does not export a Lua binding`);
      return m.binding;
    });
    bindingModules.set(url, p);
  }
  return p;
}

const services: StateServices = {
  factory: new LuaFactory(),
  sources: new ScriptSourceCache(),
  chunks: new ChunkCache(),
  http: new SyncHttpClient(),
  // Posted at once (a worker the watchdog replaces loses nothing), tagged with the request
  // that produced it: the pool emits a request's records in order with its reply.
  log: (record: LuaLogRecord) => {
    record.time = Date.now();
    if (current) current.logs++;
    port.postMessage({ kind: 'log', id: current?.id, record } satisfies WorkerMessage);
  },
  loadBinding,
  system: (workerData as { system?: LuaSystemPolicy } | null)?.system,
};
const states = new Map<number, LuaScriptState>();

/** The request being handled (requests run one at a time, in arrival order). */
let current: { id: number; logs: number; deferLogsFrom?: number; logSteps?: number[] } | null = null;

function failureOf(e: unknown): LuaFailure {
  if (e instanceof LuaScriptFailure) return { phase: e.phase, message: e.message };
  return { phase: 'call', message: e instanceof Error ? e.message : String(e) };
}

function stateOf(id: number): LuaScriptState {
  const s = states.get(id);
  if (!s) throw new LuaScriptFailure('lost', `Lua state ${id} does not exist`);
  return s;
}

function runCall(state: LuaScriptState, call: HookCall): LuaValue[] | null {
  if (call.ifDefined && !state.hasFunction(call.name)) return null;
  return state.callHook(call.name, call.args, call.nresults, call.fullGc);
}

function tryCall(state: LuaScriptState, call: HookCall): HookOutcome {
  try {
    return { ok: true, result: runCall(state, call) };
  } catch (e) {
    return { ok: false, failure: failureOf(e) };
  }
}

/** Marks where the log records of each step after the first begin (see WorkerMessage). */
function withSteps<T>(result: T, steps: number[]): T {
  if (current) current.logSteps = steps;
  return result;
}

/** Creates a state (the options' limits over the pool's defaults) and keeps it under `stateId`. */
async function createState(stateId: number, options: LuaStateOptions, defaults: LuaLimits): Promise<LuaScriptState> {
  const state = await LuaScriptState.create(options, { ...defaults, ...options.limits }, services);
  states.set(stateId, state);
  return state;
}

/** Removes and closes a state; the error text when lua_close failed. */
function closeState(id: number): string | undefined {
  const s = states.get(id);
  states.delete(id);
  try {
    s?.close();
    return undefined;
  } catch (e) {
    return failureOf(e).message;
  }
}

async function handle(req: WorkerRequest): Promise<unknown> {
  switch (req.op) {
    case 'create': {
      const state = await createState(req.stateId, req.options, req.defaults);
      if (req.probe) return { defined: req.probe.map((name) => state.hasFunction(name)) } satisfies CreateAndProbeResult;
      if (!req.then) return null;
      const call = tryCall(state, req.then);
      const keep = call.ok && call.result !== null && luaToNumber(call.result[0] ?? null) >= 0;
      const closeError = keep ? undefined : closeState(req.stateId);
      const result: CreateAndCallResult = { call, closed: !keep, ...(closeError !== undefined ? { closeError } : {}) };
      if (req.companion && call.ok && (call.result === null || keep)) {
        const { stateId, options, probe } = req.companion;
        const steps = [current?.logs ?? 0];
        try {
          const companion = await createState(stateId, options, req.defaults);
          result.companion = { ok: true, defined: probe.map((name) => companion.hasFunction(name)) };
        } catch (e) {
          result.companion = { ok: false, failure: failureOf(e) };
        }
        return withSteps(result, steps);
      }
      return result;
    }
    case 'call': {
      const state = stateOf(req.stateId);
      if (!req.close) return runCall(state, req);
      const call = tryCall(state, req);
      if (current) current.deferLogsFrom = current.logs;
      const closeError = closeState(req.stateId);
      return { call, ...(closeError !== undefined ? { closeError } : {}) } satisfies CallAndCloseResult;
    }
    case 'callSequence': {
      const state = stateOf(req.stateId);
      const steps: number[] = [];
      const calls: HookOutcome[] = [];
      for (const call of req.calls) {
        if (calls.length > 0) steps.push(current?.logs ?? 0);
        calls.push(tryCall(state, call));
      }
      if (!req.close) return withSteps({ calls } satisfies CallSequenceResult, steps);
      steps.push(current?.logs ?? 0);
      const closeError = closeState(req.stateId);
      return withSteps({ calls, ...(closeError !== undefined ? { closeError } : {}) } satisfies CallSequenceResult, steps);
    }
    case 'hasFunction':
      return stateOf(req.stateId).hasFunction(req.name);
    case 'close':
      closeState(req.stateId);
      return null;
    case 'stats': {
      const wasm = await services.factory.getLuaModule();
      let luaBytes = 0;
      for (const s of states.values()) luaBytes += s.memoryUsed();
      return { states: states.size, wasmHeapBytes: rawModule(wasm).HEAPU8.byteLength, luaBytes } satisfies LuaWorkerStats;
    }
  }
}

// One request at a time: a request that awaits (first load of a binding module) holds the
// others back, so log records always belong to the request that is running.
const queue: WorkerRequest[] = [];
let busy = false;

async function pump(): Promise<void> {
  if (busy) return;
  busy = true;
  try {
    await warm;
    while (queue.length > 0) {
      const req = queue.shift()!;
      // Offered while this worker was busy: run it only if no other worker took it meanwhile.
      const claim = (req as { claim?: number }).claim;
      if (claim !== undefined && claims && Atomics.compareExchange(claims, claim, CLAIM_FREE, CLAIM_RUN) !== CLAIM_FREE) {
        port.postMessage({ kind: 'skipped', id: req.id } satisfies WorkerMessage);
        continue;
      }
      const ctx = { id: req.id, logs: 0 } as { id: number; logs: number; deferLogsFrom?: number; logSteps?: number[] };
      current = ctx;
      let reply: WorkerMessage;
      try {
        const result = await handle(req);
        reply = { kind: 'reply', id: req.id, ok: true, result };
        if (ctx.deferLogsFrom !== undefined) reply.deferLogsFrom = ctx.deferLogsFrom;
        if (ctx.logSteps !== undefined) reply.logSteps = ctx.logSteps;
      } catch (e) {
        reply = { kind: 'reply', id: req.id, ok: false, failure: failureOf(e) };
      } finally {
        current = null;
      }
      port.postMessage(reply);
    }
  } finally {
    busy = false;
  }
}

// Compile and instantiate the Lua module at once (a warm spare is ready when work comes), then
// say so: the pool's watchdog does not count a worker's start-up as the first request's time.
// It also compiles the prelude and imports the binding modules the pool has seen in use.
const warmBindings = ((workerData as { warmBindings?: string[] } | null)?.warmBindings ?? []);
// Requests wait for it: 'ready' always comes before any request runs (a request that loops
// would otherwise keep it from being sent, and the pool would not know the worker started).
const warm = (async () => {
  try {
    await LuaScriptState.warmUp(services);
    await Promise.all(warmBindings.map((url) => loadBinding(url).catch(() => undefined)));
  } catch {
    // reported by the first request
  }
  port.postMessage({ kind: 'ready', ...threadId() } satisfies WorkerMessage);
})();

/** This thread's Linux thread id (/proc/thread-self -> "<pid>/task/<tid>"), when there is one. */
function threadId(): { tid?: number } {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? { tid } : {};
  } catch {
    return {};
  }
}

port.on('message', (req: WorkerRequest) => {
  queue.push(req);
  void pump();
});
