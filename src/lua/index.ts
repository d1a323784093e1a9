// Public API of the Lua runtime. Main thread: LuaWorkerPool → LuaStateHandle.
// Worker side (for binding modules): LuaBindingModule / LuaBindingContext.
export { LuaWorkerPool, LuaStateHandle, LuaScriptError, type LuaPoolSettings } from './pool.js';
export type { LuaBindingModule, LuaBindingContext, HostFunctions } from './binding.js';
export {
  DEFAULT_LUA_LIMITS,
  type LuaArg,
  type LuaBindingArg,
  type LuaBindingSpec,
  type LuaFailurePhase,
  type LuaLimits,
  type LuaOpaqueValue,
  type LuaScriptContext,
  type LuaStateOptions,
  type LuaTableValue,
  type LuaValue,
  type LuaWorkerStats,
} from './types.js';
export { HTTP_ERROR } from './http-protocol.js';
