// Entry of a Lua worker thread: one wasmoon factory, many Lua states (one per session).
// Requests come from pool.ts; log records are forwarded to the main thread's logHub.
import { parentPort } from 'node:worker_threads';
import { LuaFactory } from 'wasmoon';
import type { LuaBindingModule } from './binding.js';
import { ChunkCache } from './chunk-cache.js';
import { SyncHttpClient } from './http-sync.js';
import { LuaScriptFailure, LuaScriptState, type StateServices } from './script-state.js';
import { ScriptSourceCache } from './script-source.js';
import { rawModule } from './lua-stack.js';
import type { LuaFailure, LuaLogRecord, LuaWorkerStats, WorkerMessage, WorkerRequest } from './types.js';

if (!parentPort) throw new Error('worker.ts must run in a worker thread');
const port = parentPort;

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
  log: (record: LuaLogRecord) => port.postMessage({ kind: 'log', record } satisfies WorkerMessage),
  loadBinding,
};
const states = new Map<number, LuaScriptState>();

function failureOf(e: unknown): LuaFailure {
  if (e instanceof LuaScriptFailure) return { phase: e.phase, message: e.message };
  return { phase: 'call', message: e instanceof Error ? e.message : String(e) };
}

function stateOf(id: number): LuaScriptState {
  const s = states.get(id);
  if (!s) throw new LuaScriptFailure('lost', `Lua state ${id} does not exist`);
  return s;
}

async function handle(req: WorkerRequest): Promise<unknown> {
  switch (req.op) {
    case 'create': {
      const limits = { ...req.defaults, ...req.options.limits };
      states.set(req.stateId, await LuaScriptState.create(req.options, limits, services));
      return null;
    }
    case 'call': {
      const state = stateOf(req.stateId);
      if (req.ifDefined && !state.hasFunction(req.name)) return null;
      return state.callHook(req.name, req.args, req.nresults, req.fullGc);
    }
    case 'hasFunction':
      return stateOf(req.stateId).hasFunction(req.name);
    case 'close': {
      const s = states.get(req.stateId);
      states.delete(req.stateId);
      s?.close();
      return null;
    }
    case 'stats': {
      const wasm = await services.factory.getLuaModule();
      let luaBytes = 0;
      for (const s of states.values()) luaBytes += s.memoryUsed();
      return { states: states.size, wasmHeapBytes: rawModule(wasm).HEAPU8.byteLength, luaBytes } satisfies LuaWorkerStats;
    }
  }
}

port.on('message', (req: WorkerRequest) => {
  handle(req).then(
    (result) => port.postMessage({ kind: 'reply', id: req.id, ok: true, result } satisfies WorkerMessage),
    (e: unknown) => port.postMessage({ kind: 'reply', id: req.id, ok: false, failure: failureOf(e) } satisfies WorkerMessage),
  );
});
