// The Lua worker pool of `roost lua test`: the pool `roost serve` uses, which also records every
// script function the server calls (mail-lua hooks, push-notification handlers, auth functions)
// with the values it returned or the error it raised, for `t.hooks()`.
import { LuaScriptError, LuaWorkerPool, type LuaStateHandle } from '../../lua/pool.js';
import type { CallAndCloseResult, CallSequenceResult, HookOutcome, LuaArg, LuaStateOptions, LuaValue } from '../../lua/types.js';
import { fromLua } from './lua-literal.js';

export interface HookRecord {
  name: string;
  /** The results the server asked for, as Lua values (floats marked, see lua-literal.ts). */
  returned?: unknown[];
  error?: string;
}

type SendRequest = Parameters<LuaWorkerPool['send']>[1];

export class RecordingPool extends LuaWorkerPool {
  recorder: ((h: HookRecord) => void) | null = null;

  private record(name: string, outcome: LuaValue[] | null | LuaScriptError | HookOutcome): void {
    if (!this.recorder || outcome === null) return;
    if (outcome instanceof LuaScriptError) return this.recorder({ name, error: outcome.message });
    if (Array.isArray(outcome)) return this.recorder({ name, returned: outcome.map(fromLua) });
    if (outcome.ok) this.record(name, outcome.result);
    else this.recorder({ name, error: outcome.failure.message });
  }

  override async send(stateId: number, req: SendRequest): Promise<unknown> {
    if (req.op === 'callSequence') {
      // Several hooks in one round trip (mail-lua's deinit_pre + deinit): recorded one by one.
      const res = (await super.send(stateId, req)) as CallSequenceResult;
      res.calls.forEach((outcome, i) => this.record(req.calls[i]!.name, outcome));
      return res;
    }
    if (req.op !== 'call') return super.send(stateId, req);
    try {
      const res = await super.send(stateId, req);
      if (req.close) this.record(req.name, (res as CallAndCloseResult).call);
      else this.record(req.name, res as LuaValue[] | null);
      return res;
    } catch (e) {
      if (e instanceof LuaScriptError && e.phase !== 'lost') this.record(req.name, e);
      throw e;
    }
  }

  override async callAny(stateOn: (workerIndex: number) => number | null, name: string, args: LuaArg[], nresults: number): Promise<LuaValue[]> {
    try {
      const res = await super.callAny(stateOn, name, args, nresults);
      this.record(name, res);
      return res;
    } catch (e) {
      if (e instanceof LuaScriptError && e.phase !== 'lost') this.record(name, e);
      throw e;
    }
  }

  override async createStateAndCall(
    options: LuaStateOptions,
    name: string,
    args: LuaArg[],
    nresults: number,
    opts: { fullGc?: boolean; ifDefined?: boolean } = {},
  ): Promise<{ state: LuaStateHandle | null; outcome: LuaValue[] | null | LuaScriptError; closeError?: string }> {
    const r = await super.createStateAndCall(options, name, args, nresults, opts);
    this.record(name, r.outcome);
    return r;
  }
}
