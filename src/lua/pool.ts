// Main-thread side of the Lua runtime (DESIGN.md decision 3): a pool of `lua_workers` worker
// threads, each hosting many Lua states. A state is pinned to one worker for its life. A
// watchdog terminates and replaces a worker that stops answering (a loop the count hook could
// not stop, e.g. inside a C function); only that worker's sessions get an error.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { Logger, logHub } from '../log/logger.js';
import { workerEntryUrl } from './worker-files.js';
import type { LuaSystemPolicy } from './stdlib/policy.js';
import {
  DEFAULT_LUA_LIMITS,
  type CallAndCloseResult,
  type CreateAndCallResult,
  type HookOutcome,
  type LuaArg,
  type LuaFailure,
  type LuaLogRecord,
  type LuaFailurePhase,
  type LuaLimits,
  type LuaStateOptions,
  type LuaValue,
  type LuaWorkerStats,
  type WorkerMessage,
  type WorkerRequest,
} from './types.js';

export interface LuaPoolSettings {
  /** `lua_workers`, default: number of cores. */
  workers?: number;
  /** `lua_call_timeout` in ms, default 5000. */
  callTimeoutMs?: number;
  /** `lua_memory_limit` in bytes, default 64 MiB. */
  memoryLimitBytes?: number;
  /** `lua_watchdog_timeout` in ms: a worker with pending work that answers nothing for this long is replaced. */
  watchdogTimeoutMs?: number;
  /** `lua_read_paths`, `lua_write_paths`, `lua_allow_commands`; default unrestricted (Dovecot's). */
  system?: LuaSystemPolicy;
}

/** A failure of a Lua state; `phase` tells load/init/call/deinit/lost (worker replaced). */
export class LuaScriptError extends Error {
  constructor(
    readonly phase: LuaFailurePhase,
    message: string,
  ) {
    super(message);
    this.name = 'LuaScriptError';
  }
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; logs: LuaLogRecord[] };

/** Log records a combined request handed back to the caller (see LuaStateHandle.callHookAndClose). */
export interface DeferredLogs {
  /** Emits the records (in order) on the main thread's logHub. */
  flush(): void;
}

function emitLog(record: LuaLogRecord): void {
  const { time, ...rest } = record;
  logHub.emit({ ...rest, time: time === undefined ? new Date() : new Date(time) });
}

interface WorkerSlot {
  index: number;
  worker: Worker;
  pending: Map<number, Pending>;
  states: Set<number>;
  /** Last time this worker answered, or started having pending work. */
  lastProgress: number;
}

const log = new Logger('lua: ');
let nextStateId = 1;

export class LuaWorkerPool {
  private slots: WorkerSlot[] = [];
  private nextRequestId = 1;
  private readonly limits: LuaLimits;
  private readonly system: LuaSystemPolicy | undefined;
  private readonly watchdogTimeoutMs: number;
  private readonly watchdog: NodeJS.Timeout;
  private stateSlot = new Map<number, WorkerSlot>();
  private closing = false;

  constructor(settings: LuaPoolSettings = {}) {
    this.limits = {
      callTimeoutMs: settings.callTimeoutMs ?? DEFAULT_LUA_LIMITS.callTimeoutMs,
      memoryLimitBytes: settings.memoryLimitBytes ?? DEFAULT_LUA_LIMITS.memoryLimitBytes,
    };
    this.system = settings.system;
    this.watchdogTimeoutMs = settings.watchdogTimeoutMs ?? Math.max(30_000, 3 * this.limits.callTimeoutMs);
    const count = Math.max(1, settings.workers ?? availableParallelism());
    for (let i = 0; i < count; i++) this.slots.push(this.spawn(i));
    this.watchdog = setInterval(() => this.checkWorkers(), Math.min(1000, Math.max(50, this.watchdogTimeoutMs / 4)));
    this.watchdog.unref();
  }

  get workerCount(): number {
    return this.slots.length;
  }

  /**
   * Loads and initialises the script in a new state; rejects with phase 'load' or 'init'.
   * `worker` pins the state to that worker (index modulo workerCount) instead of the least loaded.
   */
  async createState(options: LuaStateOptions, placement: { worker?: number } = {}): Promise<LuaStateHandle> {
    const slot = placement.worker === undefined ? this.leastLoaded() : this.slots[placement.worker % this.slots.length]!;
    const stateId = nextStateId++;
    slot.states.add(stateId);
    this.stateSlot.set(stateId, slot);
    try {
      await this.request(slot, { op: 'create', stateId, options, defaults: this.limits });
    } catch (e) {
      slot.states.delete(stateId);
      this.stateSlot.delete(stateId);
      throw e;
    }
    return new LuaStateHandle(this, stateId, slot.index);
  }

  /**
   * createState, then `name(...args)` (when defined, with `ifDefined`) in the same round trip;
   * the state is closed again at once unless the hook ran and its first result is >= 0
   * (mail-lua, spec §5.2 steps 4-5). Load/init failures reject like createState; the hook's
   * outcome never rejects. `state` is null when the state was closed.
   */
  async createStateAndCall(
    options: LuaStateOptions,
    name: string,
    args: LuaArg[],
    nresults: number,
    opts: { fullGc?: boolean; ifDefined?: boolean } = {},
  ): Promise<{ state: LuaStateHandle | null; outcome: LuaValue[] | null | LuaScriptError; closeError?: string }> {
    const slot = this.leastLoaded();
    const stateId = nextStateId++;
    slot.states.add(stateId);
    this.stateSlot.set(stateId, slot);
    let res: CreateAndCallResult;
    try {
      res = (await this.request(slot, {
        op: 'create',
        stateId,
        options,
        defaults: this.limits,
        then: { name, args, nresults, fullGc: opts.fullGc ?? false, ifDefined: opts.ifDefined ?? false },
      })) as CreateAndCallResult;
    } catch (e) {
      slot.states.delete(stateId);
      this.stateSlot.delete(stateId);
      throw e;
    }
    if (res.closed) {
      slot.states.delete(stateId);
      this.stateSlot.delete(stateId);
    }
    return {
      state: res.closed ? null : new LuaStateHandle(this, stateId, slot.index),
      outcome: outcomeOf(res.call),
      ...(res.closeError !== undefined ? { closeError: res.closeError } : {}),
    };
  }

  /** Requests sent to worker `index` and not answered yet (0 = idle): for dispatching to the least busy. */
  workerLoad(index: number): number {
    return this.slots[index]?.pending.size ?? 0;
  }

  /** @internal false once the state was closed or lost with its worker (see LuaStateHandle.alive). */
  hasState(stateId: number): boolean {
    return this.stateSlot.has(stateId);
  }

  /** Per-worker memory figures (bench/lua.ts). */
  async workerStats(): Promise<LuaWorkerStats[]> {
    return Promise.all(this.slots.map((slot) => this.request(slot, { op: 'stats' }) as Promise<LuaWorkerStats>));
  }

  /** Terminates all workers; pending calls fail with phase 'lost'. */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.watchdog);
    await Promise.all(
      this.slots.map(async (slot) => {
        this.failPending(slot, 'Lua worker pool closed');
        await slot.worker.terminate();
      }),
    );
  }

  /** @internal used by LuaStateHandle */
  send(stateId: number, req: DistributiveOmit<WorkerRequest, 'id' | 'stateId'>): Promise<unknown> {
    const slot = this.stateSlot.get(stateId);
    if (!slot) return Promise.reject(new LuaScriptError('lost', 'Lua state was lost (its worker was replaced) or closed'));
    return this.request(slot, { ...req, stateId } as DistributiveOmit<WorkerRequest, 'id'>);
  }

  /** @internal */
  forget(stateId: number): void {
    this.stateSlot.get(stateId)?.states.delete(stateId);
    this.stateSlot.delete(stateId);
  }

  private request(slot: WorkerSlot, req: DistributiveOmit<WorkerRequest, 'id'>): Promise<unknown> {
    const id = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      if (slot.pending.size === 0) slot.lastProgress = Date.now();
      slot.pending.set(id, { resolve, reject, logs: [] });
      slot.worker.postMessage({ ...req, id } as WorkerRequest);
    });
  }

  /**
   * Where a new state goes: the worker with the least work waiting (a worker stuck in a long
   * call must not also delay new sessions), then the one holding the fewest states.
   */
  private leastLoaded(): WorkerSlot {
    const load = (s: WorkerSlot) => s.pending.size * 1_000_000 + s.states.size;
    return this.slots.reduce((best, s) => (load(s) < load(best) ? s : best));
  }

  private spawn(index: number): WorkerSlot {
    const worker = new Worker(workerEntryUrl('worker'), { workerData: { system: this.system } });
    const slot: WorkerSlot = { index, worker, pending: new Map(), states: new Set(), lastProgress: Date.now() };
    worker.on('message', (msg: WorkerMessage) => {
      if (msg.kind === 'log') {
        const p = msg.id === undefined ? undefined : slot.pending.get(msg.id);
        if (p) p.logs.push(msg.record);
        else emitLog(msg.record);
        return;
      }
      slot.lastProgress = Date.now();
      const p = slot.pending.get(msg.id);
      if (!p) return;
      slot.pending.delete(msg.id);
      const split = msg.ok && msg.deferLogsFrom !== undefined ? msg.deferLogsFrom : p.logs.length;
      for (let i = 0; i < split && i < p.logs.length; i++) emitLog(p.logs[i]!);
      if (!msg.ok) return p.reject(toError(msg.failure));
      if (split < p.logs.length) {
        const rest = p.logs.slice(split);
        (msg.result as { deferredLogs?: DeferredLogs }).deferredLogs = { flush: () => rest.forEach(emitLog) };
      }
      p.resolve(msg.result);
    });
    worker.on('error', (err) => this.replace(slot, `Lua worker ${index} failed: ${err.message}`));
    worker.on('exit', () => {
      if (this.slots[index] === slot && !this.closing) this.replace(slot, `Lua worker ${index} exited`);
    });
    worker.unref();
    return slot;
  }

  private checkWorkers(): void {
    const now = Date.now();
    for (const slot of this.slots) {
      if (slot.pending.size > 0 && now - slot.lastProgress > this.watchdogTimeoutMs) {
        this.replace(slot, `Lua worker ${slot.index} did not answer within lua_watchdog_timeout (${this.watchdogTimeoutMs} ms)`);
      }
    }
  }

  private replace(slot: WorkerSlot, reason: string): void {
    if (this.closing || this.slots[slot.index] !== slot) return;
    const lost = slot.states.size;
    log.error(`${reason}: terminated and replaced, ${lost} Lua session(s) lost`);
    this.slots[slot.index] = this.spawn(slot.index);
    for (const id of slot.states) this.stateSlot.delete(id);
    slot.states.clear();
    this.failPending(slot, `${reason}; the Lua session was lost`);
    void slot.worker.terminate();
  }

  private failPending(slot: WorkerSlot, message: string): void {
    for (const p of slot.pending.values()) {
      for (const r of p.logs) emitLog(r);
      p.reject(new LuaScriptError('lost', message));
    }
    slot.pending.clear();
  }
}

/** One Lua state (one session's script), pinned to a worker. */
export class LuaStateHandle {
  private closed = false;

  constructor(
    private readonly pool: LuaWorkerPool,
    readonly id: number,
    readonly workerIndex: number,
  ) {}

  /**
   * Calls global function `name` (raw lookup) with `args`, returning exactly `nresults` values
   * (spec §1.4). Rejects with LuaScriptError: `'<name>' is not a function` or
   * `lua_pcall(<name>, <nargs>, <nresults>) failed: <msg + traceback>`. `fullGc` runs a full
   * collection afterwards (Dovecot does after mail-lua hooks).
   */
  async callHook(name: string, args: LuaArg[] = [], nresults = 0, opts: { fullGc?: boolean } = {}): Promise<LuaValue[]> {
    return (await this.pool.send(this.id, { op: 'call', name, args, nresults, fullGc: opts.fullGc ?? false })) as LuaValue[];
  }

  /**
   * callHook when `name` is a global function (raw lookup), else null: hasFunction and the call
   * in one round trip to the worker.
   */
  async callHookIfDefined(name: string, args: LuaArg[] = [], nresults = 0, opts: { fullGc?: boolean } = {}): Promise<LuaValue[] | null> {
    return (await this.pool.send(this.id, { op: 'call', name, args, nresults, fullGc: opts.fullGc ?? false, ifDefined: true })) as
      | LuaValue[]
      | null;
  }

  /**
   * `name(...args)` (skipped when not defined, with `ifDefined`), then close (script_deinit,
   * lua_close), in one round trip. The hook's outcome never rejects (a LuaScriptError value);
   * log lines of the close step are returned in `closeLogs` for the caller to flush after its
   * own lines about the hook (Dovecot logs a deinit hook's failure before unloading). Rejects
   * only when the state is already lost.
   */
  async callHookAndClose(
    name: string,
    args: LuaArg[],
    nresults: number,
    opts: { fullGc?: boolean; ifDefined?: boolean } = {},
  ): Promise<{ outcome: LuaValue[] | null | LuaScriptError; closeError?: string; closeLogs: DeferredLogs }> {
    if (this.closed) throw new LuaScriptError('lost', 'Lua state is closed');
    this.closed = true;
    try {
      const res = (await this.pool.send(this.id, {
        op: 'call',
        name,
        args,
        nresults,
        fullGc: opts.fullGc ?? false,
        ifDefined: opts.ifDefined ?? false,
        close: true,
      })) as CallAndCloseResult & { deferredLogs?: DeferredLogs };
      return {
        outcome: outcomeOf(res.call),
        ...(res.closeError !== undefined ? { closeError: res.closeError } : {}),
        closeLogs: res.deferredLogs ?? { flush: () => {} },
      };
    } finally {
      this.pool.forget(this.id);
    }
  }

  /** False once the state was closed, or lost because the watchdog replaced its worker. */
  get alive(): boolean {
    return !this.closed && this.pool.hasState(this.id);
  }

  /** Raw lookup in _G: is `name` a function? */
  async hasFunction(name: string): Promise<boolean> {
    return (await this.pool.send(this.id, { op: 'hasFunction', name })) as boolean;
  }

  /** Runs script_deinit (failures are logged) and closes the state. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.pool.send(this.id, { op: 'close' });
    } catch (e) {
      if (!(e instanceof LuaScriptError && e.phase === 'lost')) throw e;
    } finally {
      this.pool.forget(this.id);
    }
  }
}

function outcomeOf(o: HookOutcome): LuaValue[] | null | LuaScriptError {
  return o.ok ? o.result : toError(o.failure);
}

function toError(f: LuaFailure): LuaScriptError {
  return new LuaScriptError(f.phase, f.message);
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
