// driver = lua: passdb and userdb scripts, Dovecot 2.3 compatible (spec §11; Dovecot
// src/auth/passdb-lua.c, userdb-lua.c, db-lua.c). Each passdb and each userdb gets its own Lua
// state on each worker of the shared Lua worker pool (DriverContext.lua), as Dovecot gives each
// auth-worker process its own copies: lookups go to an idle copy, so a looping script delays only
// the login that ran it (internal failure → tempfail) and logins use every worker. A copy is
// re-created if its worker had to be replaced. Return values are interpreted here on the main
// thread (§11.4).
import { fileURLToPath } from 'node:url';
import { LuaScriptError, type LuaArg, type LuaStateHandle, type LuaValue, type LuaWorkerPool } from '../../lua/index.js';
import { compiledModuleUrl } from '../../threads/compiled-module.js';
import { authRequestArg, type AuthRequestSnapshot } from './lua-auth-request.js';
import { splitStoredPassword } from '../schemes/registry.js';
import type { AuthDbRequest } from '../request.js';
import type { AuthDriverModule, DriverContext, PassdbReply, PassdbResultCode, UserdbReply } from './types.js';

type DbKind = 'passdb' | 'userdb';

export interface LuaDbArgs {
  file: string;
  blocking: boolean;
  /** Auth cache key template; '' disables caching. Roost has no auth cache yet: parsed, unused. */
  cacheKey: string;
  /** passdb only: scheme of table-returned passwords without `{SCHEME}` (default PLAIN). */
  scheme: string;
}

/** `args = file=... blocking=yes cache_key=%u scheme=PLAIN` (passdb-lua.c / userdb-lua.c preinit). */
export function parseLuaDbArgs(kind: DbKind, args: string): LuaDbArgs {
  const parsed: LuaDbArgs = { file: '', blocking: true, cacheKey: '%u', scheme: 'PLAIN' };
  for (const tok of args.split(' ').filter(Boolean)) {
    if (tok.startsWith('file=')) parsed.file = tok.slice(5);
    else if (tok.startsWith('blocking=')) {
      const v = tok.slice(9);
      if (v !== 'yes' && v !== 'no') throw new Error(`Invalid value ${v}. Field blocking must be yes or no`);
      parsed.blocking = v === 'yes';
    } else if (tok.startsWith('cache_key=')) parsed.cacheKey = tok.slice(10);
    else if (kind === 'passdb' && tok.startsWith('scheme=')) parsed.scheme = tok.slice(7);
    else throw new Error(`Unsupported parameter ${tok}`);
  }
  if (!parsed.file) throw new Error(`${kind}-lua: Missing mandatory file= parameter`);
  return parsed;
}

/** The `req` binding the Lua worker imports (compiled: workers cannot load .ts). */
const bindingModuleUrl = () => compiledModuleUrl('auth/drivers/lua-auth-request.js').href;

/** One copy of a db's script, ready to call. */
interface ReadyState {
  handle: LuaStateHandle;
  /** auth_password_verify exists (checked once, when this copy was initialised). */
  hasPasswordVerify: boolean;
}

/** The copy of a db's script pinned to one pool worker (Dovecot: the copy in one auth-worker process). */
interface StateSlot {
  worker: number;
  ready?: ReadyState;
  /** (Re-)creation in progress. */
  creating?: Promise<ReadyState>;
  /** Load/init failure of this copy: permanent for this file version. */
  failed?: Error;
}

class InitFailure extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

type CallResult = { values: LuaValue[] } | { error: string; initFailed?: true };

/**
 * One db's script: one Lua state per pool worker, like Dovecot's per-auth-worker copies (spec
 * §11.1), created at startup and on every worker the pool adds later (script_init runs once per
 * copy). Each call goes to the first worker that is free and holds a ready copy (the pool keeps
 * waiting calls on its side, LuaWorkerPool.callAny), so a looping call delays only the login
 * that ran it. A copy lost with its worker (watchdog) is re-created in place.
 */
class LuaAuthScript {
  private readonly slots = new Map<number, StateSlot>();
  private readonly firstInit: Promise<void>;
  private readonly stopListening: () => void;
  private closed = false;

  constructor(
    private readonly kind: DbKind,
    private readonly file: string,
    private readonly pool: LuaWorkerPool,
    private readonly debug: boolean,
  ) {
    for (let worker = 0; worker < pool.workerCount; worker++) this.slots.set(worker, { worker });
    this.firstInit = Promise.all([...this.slots.values()].map((slot) => this.create(slot))).then(() => undefined);
    this.firstInit.catch(() => undefined); // reported by init() and by each lookup
    this.stopListening = pool.onWorkerAdded((worker) => {
      if (this.closed) return;
      const slot: StateSlot = { worker };
      this.slots.set(worker, slot);
      this.create(slot).catch(() => undefined);
    });
  }

  /** Rejects with `<kind>-lua: initialization failed: <error>` (the first copy that failed). */
  init(): Promise<void> {
    return this.firstInit;
  }

  private create(slot: StateSlot): Promise<ReadyState> {
    const creating = this.load(slot.worker);
    slot.creating = creating;
    creating.then(
      (ready) => {
        slot.creating = undefined;
        if (this.closed) return void ready.handle.close().catch(() => undefined);
        slot.ready = ready;
        this.pool.kick(); // calls waiting for a copy may run on this one now
      },
      (e: InitFailure) => {
        slot.creating = undefined;
        if (e.permanent) slot.failed = e;
      },
    );
    return creating;
  }

  /** A new copy on `worker`; rejects with `<kind>-lua: initialization failed: <error>`. */
  private async load(worker: number): Promise<ReadyState> {
    try {
      const handle = await this.pool.createState(
        { scriptPath: this.file, context: 'auth', logPrefix: 'auth: ', debug: this.debug, bindings: [{ module: bindingModuleUrl() }] },
        { worker },
      );
      try {
        return { handle, hasPasswordVerify: this.kind === 'passdb' && (await handle.hasFunction('auth_password_verify')) };
      } catch (e) {
        await handle.close().catch(() => undefined);
        throw e;
      }
    } catch (e) {
      // A load/init failure is permanent for this file version; a lost worker is not.
      const permanent = !(e instanceof LuaScriptError && e.phase === 'lost');
      throw new InitFailure(`${this.kind}-lua: initialization failed: ${(e as Error).message}`, permanent);
    }
  }

  /** Drops copies whose worker was replaced and starts re-creating them. */
  private refresh(): void {
    if (this.closed) return;
    for (const slot of this.slots.values()) {
      if (slot.ready && !slot.ready.handle.alive) slot.ready = undefined;
      if (!slot.ready && !slot.creating && !slot.failed) this.create(slot).catch(() => undefined);
    }
  }

  /** A ready copy (waiting for the first one being created); an error text when there is none. */
  private async anyReady(): Promise<ReadyState | { error: string }> {
    this.refresh();
    for (;;) {
      const slots = [...this.slots.values()];
      const ready = slots.find((s) => s.ready)?.ready;
      if (ready) return ready;
      const creating = slots.filter((s) => s.creating).map((s) => s.creating!);
      if (this.closed || creating.length === 0) {
        const failed = slots.find((s) => s.failed)?.failed;
        return { error: failed?.message ?? `${this.kind}-lua: Lua script is closed` };
      }
      try {
        await Promise.any(creating);
      } catch (e) {
        const first = (e as AggregateError).errors?.[0] as Error | undefined;
        if (slots.every((s) => s.failed || s.creating === undefined) && first) return { error: first.message };
      }
    }
  }

  /**
   * Calls `name` with exactly `nresults` results on the first free copy (null when `only`
   * rejects the script's copies). A Lua error comes back as `{ error }` with Dovecot's
   * `lua_pcall(...) failed: ...` text.
   */
  async call(
    name: string,
    args: LuaArg[],
    nresults: number,
    only?: (st: ReadyState) => boolean,
  ): Promise<CallResult | null> {
    const first = await this.anyReady();
    if ('error' in first) return { error: first.error, initFailed: true };
    if (only && !only(first)) return null;
    const stateOn = (worker: number) => {
      const st = this.slots.get(worker)?.ready;
      return st && st.handle.alive ? st.handle.id : null;
    };
    try {
      return { values: await this.pool.callAny(stateOn, name, args, nresults) };
    } catch (e) {
      if (e instanceof LuaScriptError && e.phase === 'lost') this.refresh();
      return { error: (e as Error).message };
    }
  }

  /** script_deinit in every copy (after any creation in progress). */
  async close(): Promise<void> {
    this.closed = true;
    this.stopListening();
    await Promise.all(
      [...this.slots.values()].map(async (slot) => {
        const st = slot.ready ?? (await slot.creating?.catch(() => undefined));
        slot.ready = undefined;
        try {
          await st?.handle.close();
        } catch {
          // the worker is gone: nothing to deinit
        }
      }),
    );
  }
}

// ---- return value interpretation (spec §11.4) ------------------------------------------------

function luaTypeName(v: LuaValue): string {
  if (v === null) return 'nil';
  if (typeof v === 'bigint') return 'number';
  if (typeof v === 'object') return v.luaType === 'cycle' ? 'table' : v.luaType;
  return typeof v;
}

/** Lua's tostring for numbers: integers plain, floats as `%.14g` plus `.0` when integral. */
function luaNumberString(v: number | bigint): string {
  if (typeof v === 'bigint') return v.toString();
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  const exp = Math.floor(Math.log10(Math.abs(v)));
  let s: string;
  if (exp < -4 || exp >= 14) {
    const [mant, e] = v.toExponential(13).split('e') as [string, string];
    const digits = e.replace(/^[+-]/, '');
    s = `${mant.replace(/\.?0+$/, '')}e${e.startsWith('-') ? '-' : '+'}${digits.padStart(2, '0')}`;
  } else {
    s = v.toPrecision(14);
    if (s.includes('.')) s = s.replace(/\.?0+$/, '');
  }
  return /^-?\d+$/.test(s) ? `${s}.0` : s;
}

/** lua_tointeger: integers as is, floats with an exact integer value, else 0. */
function luaToInteger(v: number | bigint): bigint {
  if (typeof v === 'bigint') return v;
  return Number.isInteger(v) ? BigInt(v) : 0n;
}

const NUMERIC_STRING = /^\s*[-+]?(0[xX][0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)\s*$/;

/** lua_isnumber + lua_tointeger on the result code: numbers or numeric strings (`"1"` works). */
function resultCode(v: LuaValue): bigint | undefined {
  if (typeof v === 'number' || typeof v === 'bigint') return luaToInteger(v);
  if (typeof v === 'string' && NUMERIC_STRING.test(v)) {
    const t = v.trim();
    const neg = t.startsWith('-');
    const body = t.replace(/^[-+]/, '');
    if (/^0[xX]/.test(body)) return (neg ? -1n : 1n) * BigInt(body);
    return luaToInteger(Number(t));
  }
  return undefined;
}

/** Space-separated key=value, no quoting, no %-expansion; a bare key gets '' (spec §11.4). */
function parseFieldString(s: string): [string, string][] {
  return s
    .split(' ')
    .filter(Boolean)
    .map((tok) => {
      const eq = tok.indexOf('=');
      return eq < 0 ? [tok, ''] : [tok.slice(0, eq), tok.slice(eq + 1)];
    });
}

type Interpreted =
  | { kind: 'bad'; error: string }
  | { kind: 'fields'; code: bigint; fields: [string, string][]; fromTable: boolean }
  | { kind: 'failed'; code: bigint; message?: string; fromTable: boolean };

/**
 * The common part of auth_lua_call_*: result code check, then string or table second value.
 * `okCodes`: codes whose second value is exported as fields (OK, and NEXT for passdb lookups).
 */
function interpret(values: LuaValue[], what: string, okCodes: bigint[], warn: (msg: string) => void): Interpreted {
  const [first = null, second = null] = values;
  const code = resultCode(first);
  if (code === undefined) return { kind: 'bad', error: `db-lua: ${what} invalid return value (expected number got ${luaTypeName(first)})` };
  if (typeof second === 'string' || typeof second === 'number' || typeof second === 'bigint') {
    const text = typeof second === 'string' ? second : luaNumberString(second);
    if (okCodes.includes(code)) return { kind: 'fields', code, fields: parseFieldString(text), fromTable: false };
    return { kind: 'failed', code, message: text, fromTable: false };
  }
  if (second === null || typeof second !== 'object' || second.luaType !== 'table') {
    return { kind: 'bad', error: `db-lua: ${what} invalid return value (expected string or table, got ${luaTypeName(second)})` };
  }
  if (code !== 1n) return { kind: 'failed', code, fromTable: true };
  const fields: [string, string][] = [];
  for (const [k, v] of second.entries) {
    const key = typeof k === 'string' ? k : typeof k === 'number' || typeof k === 'bigint' ? luaNumberString(k) : undefined;
    if (key === undefined) continue;
    if (typeof v === 'string') fields.push([key, v]);
    else if (typeof v === 'number' || typeof v === 'bigint') fields.push([key, luaToInteger(v).toString()]);
    else if (typeof v === 'boolean') fields.push([key, v ? 'yes' : 'no']);
    else {
      // sic: Dovecot 2.3 prints "no value" whatever the type, and still adds the field empty.
      warn(`db-lua: '${key}' has invalid value type no value - ignoring`);
      fields.push([key, '']);
    }
  }
  return { kind: 'fields', code, fields, fromTable: true };
}

const PASSDB_CODES: Record<string, PassdbResultCode> = {
  '-1': 'internal', '-2': 'scheme-not-available', '-3': 'unknown', '-4': 'disabled', '-5': 'expired', '-6': 'next', '0': 'mismatch', '1': 'ok',
};
const passdbCode = (code: bigint): PassdbResultCode => PASSDB_CODES[code.toString()] ?? 'internal';

function snapshot(req: AuthDbRequest, userdbLookup: boolean): AuthRequestSnapshot {
  return {
    variables: req.variables(),
    passdb: { ...req.passdbFields },
    userdb: { ...req.userdbFields },
    skipPasswordCheck: req.skipPasswordCheck,
    passdbsSeenUserUnknown: req.passdbsSeenUserUnknown,
    passdbsSeenInternalFailure: req.passdbsSeenInternalFailure,
    userdbsSeenInternalFailure: req.userdbsSeenInternalFailure,
    userdbLookup,
    logPrefix: req.logPrefix('lua'),
  };
}

function requirePool(kind: DbKind, ctx: DriverContext): LuaWorkerPool {
  if (!ctx.lua) throw new Error(`${kind}-lua: no Lua worker pool available (DriverContext.lua)`);
  return ctx.lua;
}

/** Path as given (Dovecot does not resolve it); file: URLs are accepted for convenience. */
const scriptPath = (file: string) => (file.startsWith('file:') ? fileURLToPath(file) : file);

export const luaDriver: AuthDriverModule = {
  name: 'lua',
  passdb: (args, ctx) => {
    const a = parseLuaDbArgs('passdb', args);
    const script = new LuaAuthScript('passdb', scriptPath(a.file), requirePool('passdb', ctx), ctx.authDebug ?? false);
    const warnFor = (req: AuthDbRequest) => (msg: string) => ctx.logger.warning(`${req.logPrefix('lua')}${msg}`);

    /** passdb_lua_lookup: logged errors get `db-lua: ` in front (hence `db-lua: db-lua: ...`). */
    const lookup = async (req: AuthDbRequest): Promise<PassdbReply> => {
      const res = (await script.call('auth_passdb_lookup', [authRequestArg(snapshot(req, false))], 2))!;
      if ('error' in res) return { result: 'internal', error: res.error.startsWith('passdb-lua: ') ? res.error : `db-lua: ${res.error}` };
      const r = interpret(res.values, 'auth_passdb_lookup(req)', [1n, -6n], warnFor(req));
      if (r.kind === 'bad') return { result: 'internal', error: `db-lua: ${r.error}` };
      if (r.kind === 'failed') {
        const result = passdbCode(r.code);
        return result === 'internal' ? { result, error: `db-lua: ${r.fromTable ? 'passb failed' : r.message}` } : { result };
      }
      const fields: Record<string, string> = {};
      let password: string | undefined;
      for (const [k, v] of r.fields) {
        if (k === 'password') password = v;
        else fields[k] = v;
      }
      if (password !== undefined && password !== '') {
        // §11.5: no {SCHEME}: PLAIN for strings, scheme= for tables.
        const split = splitStoredPassword(password, r.fromTable ? a.scheme : 'PLAIN');
        password = `{${split.scheme}}${split.data}`;
      }
      return { result: passdbCode(r.code), password, fields };
    };

    return {
      driver: 'lua',
      defaultScheme: a.scheme,
      init: () => script.init(),
      close: () => script.close(),
      lookup,
      /** auth_password_verify when the script defines it (checked once at init), else lookup. */
      verify: async (req, plain): Promise<PassdbReply | undefined> => {
        const res = await script.call('auth_password_verify', [authRequestArg(snapshot(req, false)), plain], 2, (st) => st.hasPasswordVerify);
        // No auth_password_verify in this copy, or no copy (the lookup reports the init failure).
        if (res === null || ('error' in res && res.initFailed)) return undefined;
        if ('error' in res) return { result: 'internal', error: `passdb-lua: ${res.error}` };
        const r = interpret(res.values, 'auth_password_verify', [1n], warnFor(req));
        if (r.kind === 'bad') return { result: 'internal', error: `passdb-lua: ${r.error}` };
        if (r.kind === 'failed') {
          const result = passdbCode(r.code);
          return result === 'internal' ? { result, error: `passdb-lua: ${r.fromTable ? 'passb failed' : r.message}` } : { result };
        }
        // In verify mode `password` is an ordinary extra field (spec §11.4).
        return { result: passdbCode(r.code), fields: Object.fromEntries(r.fields) };
      },
    };
  },
  userdb: (args, ctx) => {
    const a = parseLuaDbArgs('userdb', args);
    const script = new LuaAuthScript('userdb', scriptPath(a.file), requirePool('userdb', ctx), ctx.authDebug ?? false);
    return {
      driver: 'lua',
      init: () => script.init(),
      close: () => script.close(),
      lookup: async (req): Promise<UserdbReply> => {
        const res = (await script.call('auth_userdb_lookup', [authRequestArg(snapshot(req, true))], 2))!;
        if ('error' in res) return { result: 'internal', error: res.error.startsWith('userdb-lua: ') ? res.error : `userdb-lua: ${res.error}` };
        const warn = (msg: string) => ctx.logger.warning(`${req.logPrefix('lua')}${msg}`);
        const r = interpret(res.values, 'auth_userdb_lookup(req)', [1n], warn);
        if (r.kind === 'bad') return { result: 'internal', error: `userdb-lua: ${r.error}` };
        if (r.kind === 'failed') {
          if (r.code === -2n) return { result: 'unknown' };
          return { result: 'internal', error: `userdb-lua: ${r.fromTable ? 'userdb failed' : r.message}` };
        }
        return { result: 'ok', fields: Object.fromEntries(r.fields) };
      },
      /** auth_userdb_iterate(): every value of the returned table, keys ignored (spec §11.6). */
      async *iterate() {
        const prefix = 'lua(*): ';
        const res = (await script.call('auth_userdb_iterate', [], 1))!;
        if ('error' in res) {
          // A missing function fails the iteration without a log line, like Dovecot.
          if (res.error !== "'auth_userdb_iterate' is not a function") ctx.logger.error(`${prefix}userdb-lua: ${res.error}`);
          throw new Error('userdb-lua: iteration failed');
        }
        const [list = null] = res.values;
        if (list === null || typeof list !== 'object' || list.luaType !== 'table') {
          ctx.logger.error(`${prefix}db-lua: Cannot iterate, return value is not table`);
          throw new Error('userdb-lua: iteration failed');
        }
        const users: string[] = [];
        for (const [, v] of list.entries) {
          if (typeof v === 'string') users.push(v);
          else if (typeof v === 'number' || typeof v === 'bigint') users.push(luaNumberString(v));
          else {
            ctx.logger.error(`${prefix}db-lua: Value is not string`);
            throw new Error('userdb-lua: iteration failed');
          }
        }
        yield* users;
      },
    };
  },
};
