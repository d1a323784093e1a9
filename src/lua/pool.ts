// Main-thread side of the Lua runtime (DESIGN.md decision 3): a pool of `lua_workers` worker
// threads, each hosting many Lua states. A state is pinned to one worker for its life.
//
// Fairness: a worker gets one request at a time; what waits stays here, so work that may run
// anywhere (a new state, a call on any copy of an auth script) goes to the first free worker
// instead of queueing behind a script that loops until lua_call_timeout. While calls run long,
// the pool grows (up to lua_max_workers) to keep `lua_workers` workers free of them, and once it
// may grow it keeps one idle worker warm. Calls on an existing state wait for that state's worker.
//
// The count hook stops Lua code at lua_call_timeout (script-state.ts); a watchdog terminates and
// replaces a worker that stops answering anyway (a C function that never returns, such as a
// pathological string pattern): the Lua states on that worker are lost (their sessions' later
// hooks fail with an error; auth scripts re-create their copies).
import { countLuaCall, countLuaFailure, countLuaWorkerReplacement } from '../metrics/metrics.js';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { Logger, logHub } from '../log/logger.js';
import { compiledModuleUrl } from '../threads/compiled-module.js';
import { CLAIM_FREE, CLAIM_TAKEN } from './claims.js';
import { RunQueueClock } from './run-queue-clock.js';
import type { LuaSystemPolicy } from './stdlib/policy.js';
import {
  DEFAULT_LUA_LIMITS,
  type CallAndCloseResult,
  type CallSequenceResult,
  type CreateAndCallResult,
  type CreateAndProbeResult,
  type HookCall,
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
  /**
   * `lua_max_workers`: how many workers the pool may grow to so that calls that run long (a
   * looping script, up to lua_call_timeout) do not hold up new sessions. Default: `workers` (no
   * growth, no spare).
   */
  maxWorkers?: number;
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

/** A second state createStateAndCall creates on the same worker once the hook did not fail. */
export interface CompanionRequest {
  options: LuaStateOptions;
  /** Names looked up in it (is each a global function?). */
  probe: string[];
}

/**
 * The companion state, or why it could not be created (as createStateProbing would have rejected).
 * `logs`: the records its creation produced, for the caller to flush where it would have created it.
 */
export type CompanionState =
  | { state: LuaStateHandle; defined: boolean[]; error?: undefined; logs: DeferredLogs }
  | { state?: undefined; error: LuaScriptError; logs: DeferredLogs };

/** Log records a combined request handed back to the caller (see LuaStateHandle.callHookAndClose). */
export interface DeferredLogs {
  /** Emits the records (in order) on the main thread's logHub. */
  flush(): void;
}

function emitLog(record: LuaLogRecord): void {
  const { time, ...rest } = record;
  logHub.emit({ ...rest, time: time === undefined ? new Date() : new Date(time) });
}

type Request = DistributiveOmit<WorkerRequest, 'id'>;

/**
 * A request waiting for a worker. `build` gives the request for a worker, or null when it cannot
 * run there (a call on a state that lives elsewhere); `onStart` runs when it is sent.
 */
interface Job {
  build(slot: WorkerSlot): Request | null;
  onStart?(slot: WorkerSlot): void;
  resolve(v: unknown): void;
  reject(e: Error): void;
  /** Floating work also sent ahead to a busy worker (offer()); it stays in `floating` meanwhile. */
  offered?: { slot: WorkerSlot; claim: number; stateId?: number };
}

interface InFlight {
  id: number;
  job: Job;
  logs: LuaLogRecord[];
  /** When it was sent: the worker runs one request at a time, so also when it started. */
  since: number;
  /**
   * The worker's run-queue wait (RunQueueClock, ms) at the first watchdog tick that saw the
   * request: its running time is counted from there (runningMs). Read on ticks only, never per
   * request: a read of /proc per request cost the main thread more than the rest of a dispatch.
   */
  sample?: { at: number; waited: number };
  op: Request['op'];
  /** The script function the request calls, if any (counted in the metrics when it ran). */
  hook: string | undefined;
  /** The script file of the state the request runs on ('' for none): the metrics' `script` label. */
  script: string;
  /** The request may close its state (script_deinit runs, and logs its failures in the worker). */
  closes: boolean;
  /** The script functions a callSequence request calls, in order. */
  sequence?: string[];
  /** An offered request's claim cell (offer()). */
  claim?: number;
}

interface WorkerSlot {
  index: number;
  worker: Worker;
  /** The request the worker runs now (the watchdog and long-call checks look at it). */
  inFlight: InFlight | null;
  /**
   * Requests sent while the worker was busy: calls on its own states (pipeline()) and work any
   * worker could run that it may get back (offer()). Its thread runs them one after the other
   * once `inFlight` is answered, without sleeping and being woken for each.
   */
  pipelined: InFlight[];
  /** Requests that can only run on this worker (calls on its states), in order. */
  queue: Job[];
  states: Set<number>;
  /** The worker has loaded its Lua module: only then does it take work that could go elsewhere. */
  started: boolean;
  spawnedAt: number;
  /** How long the worker's thread has waited for a CPU (null: not known, calls count by wall time). */
  runQueue: RunQueueClock | null;
  /** Replies the worker has sent since it started. */
  answered: number;
  /** One of the first `lua_workers` workers, running a call for over SPREAD_AFTER_MS (set on ticks). */
  held: boolean;
}

const log = new Logger('lua: ');
let nextStateId = 1;

/**
 * A call that has run this long counts as long: new work no longer waits for its worker, and
 * the pool grows (up to lua_max_workers) so that `workers` workers stay free of long calls.
 */
export const LONG_CALL_MS = 50;
/** Claim cells for requests offered to busy workers (offer()); more are never outstanding at once. */
const CLAIM_CELLS = 256;
/** Requests for a busy worker's own states sent ahead behind the running one (pipeline()). */
const PIPELINE_DEPTH = 4;
// What counts is the call's time not spent waiting for a CPU (RunQueueClock): on a machine whose
// cores are all busy, ordinary calls wait longer than this for one, and more workers would only
// add threads to wait and JIT-compiled code to warm up (issue #18). A call blocked in a host
// function (an HTTP request) waits for no CPU, so it counts as long like a loop does. A worker
// still starting up has no long calls: the work waiting for it would wait as long for a new one
// (before this, the first sessions' requests on a busy machine grew the pool to lua_max_workers).
/** A call on one of the first `lua_workers` workers running this long lets the spare workers take new work. */
const SPREAD_AFTER_MS = 10;
/** The first request of a new worker counts as long only after this long (see checkWorkers). */
const FIRST_CALL_LONG_MS = 500;
/** Time a worker may take to start, on top of lua_watchdog_timeout, before the watchdog counts. */
const STARTUP_ALLOWANCE_MS = 30_000;
/** The warm spare worker of a pool that may grow is started this long after the pool. */
const SPARE_DELAY_MS = 1000;

export class LuaWorkerPool {
  private slots: WorkerSlot[] = [];
  private nextRequestId = 1;
  private readonly limits: LuaLimits;
  private readonly system: LuaSystemPolicy | undefined;
  private readonly watchdogTimeoutMs: number;
  private readonly watchdog: NodeJS.Timeout;
  private readonly baseWorkers: number;
  private readonly maxWorkers: number;
  private spareTimer: NodeJS.Timeout | null = null;
  private spareDue = false;
  private stateSlot = new Map<number, WorkerSlot>();
  /** The script file each state runs (metrics labels). */
  private stateScript = new Map<number, string>();
  /** Requests any worker may run (new states, calls on any copy of an auth script), in order. */
  private floating: Job[] = [];
  /** Claim cells shared with the workers (claims.ts), and the cells not in use. */
  private readonly claimCells = new Int32Array(new SharedArrayBuffer(4 * CLAIM_CELLS));
  private readonly freeClaims = Array.from({ length: CLAIM_CELLS }, (_, i) => CLAIM_CELLS - 1 - i);
  private readonly addedListeners = new Set<(index: number) => void>();
  /** Binding modules states have used: new workers import them while they start. */
  private readonly bindingsSeen = new Set<string>();
  private closing = false;

  constructor(settings: LuaPoolSettings = {}) {
    this.limits = {
      callTimeoutMs: settings.callTimeoutMs ?? DEFAULT_LUA_LIMITS.callTimeoutMs,
      memoryLimitBytes: settings.memoryLimitBytes ?? DEFAULT_LUA_LIMITS.memoryLimitBytes,
    };
    this.system = settings.system;
    this.watchdogTimeoutMs = settings.watchdogTimeoutMs ?? Math.max(30_000, 3 * this.limits.callTimeoutMs);
    this.baseWorkers = Math.max(1, settings.workers ?? availableParallelism());
    this.maxWorkers = Math.max(this.baseWorkers, settings.maxWorkers ?? this.baseWorkers);
    for (let i = 0; i < this.baseWorkers; i++) this.slots.push(this.spawn(i));
    // Checks for stuck workers (watchdog) and for long calls (growth) while work is in flight.
    const tick = Math.min(LONG_CALL_MS, Math.max(5, this.watchdogTimeoutMs / 4));
    this.watchdog = setInterval(() => this.checkWorkers(), tick);
    this.watchdog.unref();
    if (this.maxWorkers > this.baseWorkers) {
      // One idle worker kept warm, so the first long call's neighbours need not wait for a thread
      // to start; not at once, so a short-lived CLI command never pays for it.
      this.spareTimer = setTimeout(() => {
        this.spareDue = true;
        this.grow();
      }, SPARE_DELAY_MS);
      this.spareTimer.unref();
    }
  }

  get workerCount(): number {
    return this.slots.length;
  }

  /** lua_max_workers: the most workers this pool grows to. */
  get maxWorkerCount(): number {
    return this.maxWorkers;
  }

  /** Calls `listener(index)` for every worker the pool adds from now on (growth, not replacement). */
  onWorkerAdded(listener: (index: number) => void): () => void {
    this.addedListeners.add(listener);
    return () => this.addedListeners.delete(listener);
  }

  /**
   * Loads and initialises the script in a new state; rejects with phase 'load' or 'init'.
   * `worker` pins the state to that worker (index modulo workerCount) instead of the first free one.
   */
  async createState(options: LuaStateOptions, placement: { worker?: number } = {}): Promise<LuaStateHandle> {
    const stateId = nextStateId++;
    const pinned = placement.worker === undefined ? undefined : this.slots[placement.worker % this.slots.length]!;
    let slot: WorkerSlot | undefined;
    try {
      await this.enqueue(
        {
          build: (s) => (pinned && s !== pinned ? null : { op: 'create', stateId, options, defaults: this.limits }),
          onStart: (s) => this.place(stateId, (slot = s)),
        },
        pinned,
      );
    } catch (e) {
      this.forget(stateId);
      throw e;
    }
    return new LuaStateHandle(this, stateId, slot!.index);
  }

  /**
   * createState, then the raw lookup of each of `names` (is it a global function?) in the same
   * round trip: `defined[i]` answers for `names[i]`.
   */
  async createStateProbing(options: LuaStateOptions, names: string[]): Promise<{ state: LuaStateHandle; defined: boolean[] }> {
    const stateId = nextStateId++;
    let slot: WorkerSlot | undefined;
    let res: CreateAndProbeResult;
    try {
      res = (await this.enqueue({
        build: () => ({ op: 'create', stateId, options, defaults: this.limits, probe: names }),
        onStart: (s) => this.place(stateId, (slot = s)),
      })) as CreateAndProbeResult;
    } catch (e) {
      this.forget(stateId);
      throw e;
    }
    return { state: new LuaStateHandle(this, stateId, slot!.index), defined: res.defined };
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
    opts: { fullGc?: boolean; ifDefined?: boolean; companion?: CompanionRequest } = {},
  ): Promise<{ state: LuaStateHandle | null; outcome: LuaValue[] | null | LuaScriptError; closeError?: string; companion?: CompanionState }> {
    const stateId = nextStateId++;
    const companionId = opts.companion ? nextStateId++ : undefined;
    let slot: WorkerSlot | undefined;
    let res: CreateAndCallResult & { stepLogs?: DeferredLogs[] };
    try {
      res = (await this.enqueue({
        build: () => ({
          op: 'create',
          stateId,
          options,
          defaults: this.limits,
          then: { name, args, nresults, fullGc: opts.fullGc ?? false, ifDefined: opts.ifDefined ?? false },
          ...(opts.companion && companionId !== undefined ? { companion: { stateId: companionId, ...opts.companion } } : {}),
        }),
        onStart: (s) => {
          this.place(stateId, (slot = s));
          // The companion's metrics label; the state itself is placed once the reply says it exists.
          if (opts.companion && companionId !== undefined) this.stateScript.set(companionId, opts.companion.options.scriptPath);
        },
      })) as CreateAndCallResult & { stepLogs?: DeferredLogs[] };
    } catch (e) {
      this.forget(stateId);
      if (companionId !== undefined) this.forget(companionId);
      throw e;
    }
    if (res.closed) this.forget(stateId);
    let companion: CompanionState | undefined;
    if (companionId !== undefined) {
      const logs = res.stepLogs?.[0] ?? { flush: () => {} };
      if (res.companion?.ok) {
        this.place(companionId, slot!);
        companion = { state: new LuaStateHandle(this, companionId, slot!.index), defined: res.companion.defined, logs };
      } else {
        this.forget(companionId);
        if (res.companion) {
          countLuaFailure(opts.companion!.options.scriptPath, res.companion.failure.message);
          companion = { error: toError(res.companion.failure), logs };
        }
      }
    }
    return {
      state: res.closed ? null : new LuaStateHandle(this, stateId, slot!.index),
      outcome: outcomeOf(res.call),
      ...(res.closeError !== undefined ? { closeError: res.closeError } : {}),
      ...(companion ? { companion } : {}),
    };
  }

  /**
   * Calls `name` on whichever of several equivalent states gets a free worker first (the copies
   * of an auth script, one per worker): `stateOn(workerIndex)` names the copy on that worker, or
   * null. Rejects like LuaStateHandle.callHook.
   */
  callAny(stateOn: (workerIndex: number) => number | null, name: string, args: LuaArg[], nresults: number): Promise<LuaValue[]> {
    return this.enqueue({
      build: (s) => {
        const stateId = stateOn(s.index);
        return stateId === null || this.stateSlot.get(stateId) !== s ? null : { op: 'call', stateId, name, args, nresults, fullGc: false };
      },
    }) as Promise<LuaValue[]>;
  }

  /** Runs waiting requests that may have become runnable (e.g. a new copy of an auth script is ready). */
  kick(): void {
    for (const slot of this.slots) this.dispatch(slot);
  }

  /** @internal false once the state was closed or lost with its worker (see LuaStateHandle.alive). */
  hasState(stateId: number): boolean {
    return this.stateSlot.has(stateId);
  }

  /** Per-worker memory figures (bench/lua.ts). */
  async workerStats(): Promise<LuaWorkerStats[]> {
    return Promise.all(this.slots.map((slot) => this.enqueue({ build: () => ({ op: 'stats' }) }, slot) as Promise<LuaWorkerStats>));
  }

  /** Terminates all workers; pending calls fail with phase 'lost'. */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.watchdog);
    if (this.spareTimer) clearTimeout(this.spareTimer);
    for (const job of this.floating.splice(0)) job.reject(new LuaScriptError('lost', 'Lua worker pool closed'));
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
    return this.enqueue({ build: () => ({ ...req, stateId }) as Request }, slot);
  }

  /** @internal */
  forget(stateId: number): void {
    this.stateSlot.get(stateId)?.states.delete(stateId);
    this.stateSlot.delete(stateId);
    this.stateScript.delete(stateId);
  }

  private place(stateId: number, slot: WorkerSlot): void {
    slot.states.add(stateId);
    this.stateSlot.set(stateId, slot);
  }

  /** Queues a job on `slot`, or for any worker; starts it at once when a worker is free. */
  private enqueue(job: Omit<Job, 'resolve' | 'reject'>, slot?: WorkerSlot): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const full: Job = { ...job, resolve, reject };
      if (this.closing) return reject(new LuaScriptError('lost', 'Lua worker pool closed'));
      if (slot) {
        slot.queue.push(full);
        this.dispatch(slot);
        return;
      }
      this.floating.push(full);
      // The free worker holding the fewest states takes it (a spare or grown worker only while
      // one of the first `lua_workers` is held by a long call, see mayTakeFloating).
      const free = this.slots
        .filter((s) => !s.inFlight && s.queue.length === 0 && this.mayTakeFloating(s))
        .sort((a, b) => Number(b.started) - Number(a.started) || a.states.size - b.states.size);
      for (const s of free) {
        this.dispatch(s);
        if (!this.floating.includes(full)) return;
      }
      this.offer(full);
    });
  }

  /**
   * Sends the next job this worker can run, if it is free: its own queue first, then floating work.
   * A busy worker gets the jobs of its own queue pipelined behind the running one.
   */
  private dispatch(slot: WorkerSlot): void {
    if (this.closing || this.slots[slot.index] !== slot) return;
    if (slot.inFlight) return this.pipeline(slot);
    let job: Job | undefined;
    let req: Request | null = null;
    while (slot.queue.length > 0 && !req) {
      job = slot.queue.shift()!;
      req = job.build(slot);
      if (!req) job.reject(new LuaScriptError('lost', 'Lua state was lost (its worker was replaced) or closed'));
    }
    // Floating work waits for a started worker rather than for one still loading (~0.1-0.5 s).
    if (!req && (slot.started || !this.slots.some((s) => s.started)) && this.mayTakeFloating(slot)) {
      for (let i = 0; i < this.floating.length; i++) {
        const waiting = this.floating[i]!;
        req = waiting.build(slot);
        if (!req) continue;
        // Offered to a busy worker meanwhile: this one takes it unless that one has started it.
        if (waiting.offered && !this.takeBack(waiting)) {
          this.floating.splice(i--, 1);
          req = null;
          continue;
        }
        job = this.floating.splice(i, 1)[0]!;
        break;
      }
    }
    if (!req || !job) return;
    slot.inFlight = this.post(slot, job, req);
    this.pipeline(slot);
  }

  /**
   * Sends the jobs waiting for this (busy) worker's own states behind the request it runs, up to
   * PIPELINE_DEPTH: the worker's thread takes each as soon as it has answered the one before, where
   * otherwise it would sleep until the reply had come back here and the next job had been sent (a
   * Lua delivery's close of the push state, its mail_user_deinit and its push transaction go to the
   * same worker back to back; each wake-up of a thread costs CPU on a busy machine, issue #18).
   */
  private pipeline(slot: WorkerSlot): void {
    if (!slot.started) return; // the first request waits for the start-up (see the 'ready' message)
    while (slot.queue.length > 0 && slot.pipelined.length < PIPELINE_DEPTH) {
      const job = slot.queue.shift()!;
      const req = job.build(slot);
      if (!req) {
        job.reject(new LuaScriptError('lost', 'Lua state was lost (its worker was replaced) or closed'));
        continue;
      }
      slot.pipelined.push(this.post(slot, job, req));
    }
  }

  /** Posts `req` to the worker; what the reply handler needs to know about it. */
  private post(slot: WorkerSlot, job: Job, req: Request, claim?: number): InFlight {
    const id = this.nextRequestId++;
    const hook = req.op === 'call' ? req.name : req.op === 'create' ? req.then?.name : undefined;
    if (req.op === 'create') this.stateScript.set(req.stateId, req.options.scriptPath);
    const script = 'stateId' in req ? (this.stateScript.get(req.stateId) ?? '') : '';
    const closes =
      req.op === 'close' || ((req.op === 'call' || req.op === 'callSequence') && req.close === true) || (req.op === 'create' && req.then !== undefined);
    const flight: InFlight = { id, job, logs: [], since: Date.now(), op: req.op, hook, script, closes };
    if (claim !== undefined) flight.claim = claim;
    if (req.op === 'callSequence') flight.sequence = req.calls.map((c) => c.name);
    job.onStart?.(slot);
    if (req.op === 'create') for (const b of req.options.bindings ?? []) this.bindingsSeen.add(b.module);
    // A request in flight keeps the process alive (an idle pool must not): `roost deliver`
    // waiting on a hook would otherwise see the event loop drain and exit.
    slot.worker.ref();
    slot.worker.postMessage({ ...req, id, ...(claim !== undefined ? { claim } : {}) } as WorkerRequest);
    return flight;
  }

  /**
   * When every worker that may take `job` is busy: sends it ahead to a busy one of the first
   * `lua_workers` (not held by a long call, room in its pipeline), which runs it right after what
   * it runs now without sleeping in between. The job stays in `floating`: a worker that frees up
   * first takes it back through its claim cell (takeBack), and the busy one then skips it. So
   * nothing waits behind a call that turns out long any longer than it waited before.
   */
  private offer(job: Job): void {
    if (this.freeClaims.length === 0) return;
    const busy = this.slots
      .filter((s) => s.index < this.baseWorkers && s.started && s.inFlight && !s.held && s.queue.length === 0 && s.pipelined.length < PIPELINE_DEPTH)
      .sort((a, b) => a.pipelined.length - b.pipelined.length);
    for (const slot of busy) {
      const req = job.build(slot);
      if (!req) continue;
      const claim = this.freeClaims.pop()!;
      Atomics.store(this.claimCells, claim, CLAIM_FREE);
      slot.pipelined.push(this.post(slot, job, req, claim));
      job.offered = { slot, claim, ...(req.op === 'create' ? { stateId: req.stateId } : {}) };
      return;
    }
  }

  /**
   * Takes an offered job back from the busy worker it was sent to; false when that worker has
   * already started it (it is its work then, and leaves `floating`).
   */
  private takeBack(job: Job): boolean {
    const offered = job.offered!;
    job.offered = undefined;
    if (Atomics.compareExchange(this.claimCells, offered.claim, CLAIM_FREE, CLAIM_TAKEN) !== CLAIM_FREE) return false;
    // A new state would have lived there: it will live where the job now goes (onStart).
    if (offered.stateId !== undefined) offered.slot.states.delete(offered.stateId);
    return true;
  }

  /** The claim cell of a finished or skipped offered request can serve another one. */
  private releaseClaim(flight: InFlight): void {
    if (flight.claim === undefined) return;
    this.freeClaims.push(flight.claim);
    flight.claim = undefined;
  }

  /**
   * Whether `slot` may take work that any worker could run. The first `lua_workers` workers
   * always may. The warm spare and the workers the pool grew exist so that long calls do not
   * hold up everyone else: they take such work only while one of the first `lua_workers` is
   * held (a call that ran for SPREAD_AFTER_MS at the last tick, not counting its waits for a
   * CPU) or not yet running. Otherwise work waits a moment for one of those: spreading short calls over more
   * threads than cores only adds thread wake-ups and colder caches (issue #18: a Lua-heavy
   * delivery took about 10% more CPU with the work spread over 4 workers than over 2).
   */
  private mayTakeFloating(slot: WorkerSlot): boolean {
    if (slot.index < this.baseWorkers) return true;
    for (let i = 0; i < this.baseWorkers && i < this.slots.length; i++) {
      const base = this.slots[i]!;
      if (!base.started || (base.held && base.inFlight)) return true;
    }
    return false;
  }

  private spawn(index: number): WorkerSlot {
    const worker = new Worker(compiledModuleUrl('lua/worker.js'), {
      workerData: { warmBindings: [...this.bindingsSeen], system: this.system, claims: this.claimCells.buffer },
    });
    const slot: WorkerSlot = {
      index,
      worker,
      inFlight: null,
      pipelined: [],
      queue: [],
      states: new Set(),
      started: false,
      spawnedAt: Date.now(),
      runQueue: null,
      answered: 0,
      held: false,
    };
    worker.on('message', (msg: WorkerMessage) => {
      const current = slot.inFlight;
      if (msg.kind === 'ready') {
        slot.started = true;
        slot.runQueue = RunQueueClock.forThread(msg.tid);
        // Start-up is not the request's time (watchdog, long calls).
        if (current) {
          current.since = Date.now();
          delete current.sample;
        }
        this.dispatch(slot);
        return;
      }
      if (msg.kind === 'log') {
        if (current && msg.id === current.id) current.logs.push(msg.record);
        else emitLog(msg.record);
        return;
      }
      if (!current || current.id !== msg.id) return;
      // The next pipelined request starts now on the worker's thread.
      const next = slot.pipelined.shift() ?? null;
      if (next) next.since = Date.now();
      slot.inFlight = next;
      slot.held = false;
      if (!next) worker.unref();
      this.releaseClaim(current);
      // An offered request another worker took meanwhile (takeBack): nothing to answer here.
      if (msg.kind === 'skipped') return this.dispatch(slot);
      // An offered request this worker ran before anyone took it back.
      if (current.job.offered) this.dropFloating(current.job);
      slot.answered++;
      const p = current.job;
      const steps = msg.ok ? msg.logSteps : undefined;
      const split = !msg.ok ? current.logs.length : steps !== undefined ? (steps[0] ?? current.logs.length) : (msg.deferLogsFrom ?? current.logs.length);
      for (let i = 0; i < split && i < current.logs.length; i++) emitLog(current.logs[i]!);
      if (current.hook !== undefined && hookRan(current.op, msg)) countLuaCall(current.script, current.hook);
      if (current.sequence && msg.ok) {
        (msg.result as CallSequenceResult).calls.forEach((c, i) => {
          if (!(c.ok && c.result === null)) countLuaCall(current.script, current.sequence![i]!);
        });
      }
      countFailures(current, msg);
      if (!msg.ok) p.reject(toError(msg.failure));
      else if (steps !== undefined) {
        // Each later step's records, for the caller to emit after its own lines about the step before.
        const logs = current.logs;
        (msg.result as { stepLogs?: DeferredLogs[] }).stepLogs = steps.map((from, i) => {
          const part = logs.slice(from, steps[i + 1] ?? logs.length);
          return { flush: () => part.forEach(emitLog) };
        });
        p.resolve(msg.result);
      } else {
        if (split < current.logs.length) {
          const rest = current.logs.slice(split);
          (msg.result as { deferredLogs?: DeferredLogs }).deferredLogs = { flush: () => rest.forEach(emitLog) };
        }
        p.resolve(msg.result);
      }
      this.dispatch(slot);
    });
    worker.on('error', (err) => this.replace(slot, `Lua worker ${index} failed: ${err.message}`));
    worker.on('exit', () => {
      if (this.slots[index] === slot && !this.closing) this.replace(slot, `Lua worker ${index} exited`);
    });
    // Idle workers do not hold the process open; dispatch() refs a worker while it has work.
    worker.unref();
    return slot;
  }

  /** Adds a worker (growth), tells the listeners, and gives it waiting work. */
  private grow(): void {
    if (this.closing || this.slots.length >= this.maxWorkers) return;
    const slot = this.spawn(this.slots.length);
    this.slots.push(slot);
    log.debug(`Lua worker ${slot.index} started (${this.slots.length} of at most ${this.maxWorkers})`);
    for (const listener of this.addedListeners) listener(slot.index);
    this.dispatch(slot);
  }

  private checkWorkers(): void {
    const now = Date.now();
    let long = 0;
    let free = 0;
    for (const slot of this.slots) {
      const f = slot.inFlight;
      if (!f) {
        free++;
        continue;
      }
      // A worker still starting (a busy machine may take seconds) is given extra time.
      const limit = slot.started ? this.watchdogTimeoutMs : this.watchdogTimeoutMs + STARTUP_ALLOWANCE_MS;
      if (now - (slot.started ? f.since : slot.spawnedAt) > limit) {
        this.replace(slot, `Lua worker ${slot.index} did not answer within lua_watchdog_timeout (${this.watchdogTimeoutMs} ms)`);
      } else if (slot.started) {
        const running = runningMs(slot, f, now);
        slot.held = slot.index < this.baseWorkers && running > SPREAD_AFTER_MS;
        // A new worker's first request also imports the binding modules and runs cold code.
        const threshold = slot.answered > 0 ? LONG_CALL_MS : FIRST_CALL_LONG_MS;
        if (now - f.since > LONG_CALL_MS && running > threshold) long++;
      }
    }
    // Keep `workers` workers free of long calls (plus the warm spare, once it is due).
    if (this.slots.length - long < this.baseWorkers + (this.spareDue ? 1 : 0) || (long > 0 && free === 0)) this.grow();
    // Waiting work a spare may take now that a call has run long (mayTakeFloating).
    if (this.floating.length > 0) for (const slot of this.slots) if (slot.index >= this.baseWorkers) this.dispatch(slot);
  }

  private replace(slot: WorkerSlot, reason: string): void {
    if (this.closing || this.slots[slot.index] !== slot) return;
    const lost = slot.states.size;
    log.error(`${reason}: terminated and replaced, ${lost} Lua session(s) lost`);
    countLuaWorkerReplacement();
    const fresh = this.spawn(slot.index);
    this.slots[slot.index] = fresh;
    for (const id of slot.states) {
      this.stateSlot.delete(id);
      this.stateScript.delete(id);
    }
    slot.states.clear();
    this.failPending(slot, `${reason}; the Lua session was lost`);
    void slot.worker.terminate();
    // Work the lost worker had been offered but not started goes to whichever worker is free.
    this.kick();
  }

  /** A job the lost worker had started, or was answering, leaves the floating queue. */
  private dropFloating(job: Job): void {
    job.offered = undefined;
    const i = this.floating.indexOf(job);
    if (i >= 0) this.floating.splice(i, 1);
  }

  private failPending(slot: WorkerSlot, message: string): void {
    slot.runQueue?.close();
    slot.runQueue = null;
    const flights = [...(slot.inFlight ? [slot.inFlight] : []), ...slot.pipelined.splice(0)];
    slot.inFlight = null;
    for (const f of flights) {
      for (const r of f.logs) emitLog(r);
      // An offered request this worker had not started goes back to the others.
      const back = f.job.offered !== undefined && this.takeBack(f.job);
      this.releaseClaim(f);
      if (back) continue;
      this.dropFloating(f.job);
      f.job.reject(new LuaScriptError('lost', message));
    }
    for (const job of slot.queue.splice(0)) job.reject(new LuaScriptError('lost', message));
    slot.worker.unref();
  }
}

/**
 * A call's time so far, less the time its worker waited for a CPU meanwhile. Where the wait can
 * be read, it counts from the first tick that saw the call (0 at that tick; at most one tick of
 * the call's start is left out, which delays a long call's detection by that much); elsewhere
 * it is the wall time since the call was sent.
 */
function runningMs(slot: WorkerSlot, f: InFlight, now: number): number {
  const waited = slot.runQueue?.waitedMs();
  if (waited === undefined) return now - f.since;
  if (!f.sample) {
    f.sample = { at: now, waited };
    return 0;
  }
  return now - f.sample.at - (waited - f.sample.waited);
}

/** One Lua state (one session's script), pinned to a worker. */
export class LuaStateHandle {
  private closed = false;
  /** The close() in progress or done (see close). */
  private closing: Promise<void> | undefined;

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

  /**
   * Several hooks in one round trip, each called (skipped when not defined, with `ifDefined`)
   * whatever the outcome of the one before, then the close (script_deinit, lua_close). Outcomes
   * never reject (LuaScriptError values). The first call's log lines are emitted before this
   * resolves; `stepLogs[i]` holds those of call i + 1 (the last entry: of the close), for the
   * caller to flush after its own lines about the step before. Rejects only when the state is
   * already lost.
   */
  async callSequenceAndClose(
    calls: HookCall[],
  ): Promise<{ outcomes: (LuaValue[] | null | LuaScriptError)[]; closeError?: string; stepLogs: DeferredLogs[] }> {
    if (this.closed) throw new LuaScriptError('lost', 'Lua state is closed');
    this.closed = true;
    try {
      const res = (await this.pool.send(this.id, { op: 'callSequence', calls, close: true })) as CallSequenceResult & {
        stepLogs?: DeferredLogs[];
      };
      return {
        outcomes: res.calls.map(outcomeOf),
        ...(res.closeError !== undefined ? { closeError: res.closeError } : {}),
        stepLogs: res.stepLogs ?? [],
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

  /**
   * Runs script_deinit (failures are logged) and closes the state. Idempotent: a second caller
   * gets the first call's promise, so it too resolves only once script_deinit has run.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.closing = (async () => {
      try {
        await this.pool.send(this.id, { op: 'close' });
      } catch (e) {
        if (!(e instanceof LuaScriptError && e.phase === 'lost')) throw e;
      } finally {
        this.pool.forget(this.id);
      }
    })();
    return this.closing;
  }
}

function outcomeOf(o: HookOutcome): LuaValue[] | null | LuaScriptError {
  return o.ok ? o.result : toError(o.failure);
}

/** Whether a reply shows that the hook ran: not skipped as undefined (`ifDefined`), nor a failed load. */
function hookRan(op: Request['op'], msg: Extract<WorkerMessage, { kind: 'reply' }>): boolean {
  if (!msg.ok) return op === 'call';
  const r = msg.result as { call?: HookOutcome } | unknown[] | null;
  if (r === null) return false;
  if (!Array.isArray(r) && r.call) return !(r.call.ok && r.call.result === null);
  return true;
}

/**
 * Counts the lua_call_timeout and lua_memory_limit failures a reply reports, under the state's
 * script: the request's own failure, its hook's, a failed lua_close, and the errors script_deinit
 * logged in the worker while the request closed the state. Each failure is reported once.
 */
function countFailures(req: InFlight, msg: Extract<WorkerMessage, { kind: 'reply' }>): void {
  if (!msg.ok) countLuaFailure(req.script, msg.failure.message);
  else if (msg.result !== null && typeof msg.result === 'object' && !Array.isArray(msg.result)) {
    const r = msg.result as { call?: HookOutcome; calls?: HookOutcome[]; closeError?: string };
    if (r.call && !r.call.ok) countLuaFailure(req.script, r.call.failure.message);
    for (const c of r.calls ?? []) if (!c.ok) countLuaFailure(req.script, c.failure.message);
    if (r.closeError !== undefined) countLuaFailure(req.script, r.closeError);
  }
  // A callSequence's first call is a request of its own as far as failures go: its lines are not
  // the close's. A create's second step is its companion state's (counted by createStateAndCall).
  const steps = msg.ok ? msg.logSteps : undefined;
  const [from, to] = req.op === 'create' ? [0, steps?.[0] ?? req.logs.length] : [steps?.[0] ?? 0, req.logs.length];
  if (req.closes) for (const record of req.logs.slice(from, to)) if (record.level === 'Error') countLuaFailure(req.script, record.message);
}

function toError(f: LuaFailure): LuaScriptError {
  return new LuaScriptError(f.phase, f.message);
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
