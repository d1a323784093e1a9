// AuthService: runs the configured passdb and userdb chains the way Dovecot's auth process does
// (auth-request.c): username normalisation, master users, result_* rules, skip, deny, extra fields,
// then the userdb lookup; wrapped in the brute-force penalty and auth_failure_delay.
import { observeAuthPenalty } from '../metrics/metrics.js';
import { Logger } from '../log/logger.js';
import type { LuaWorkerPool } from '../lua/index.js';
import { credentialsFor, verifyPassword } from './schemes/registry.js';
import { getAuthDriver } from './drivers/registry.js';
import type { AccountStore, PassdbDriver, PassdbReply, PassdbResultCode, UserdbDriver } from './drivers/types.js';
import { AuthPenalty } from './penalty.js';
import { AuthRequest, type AuthClientInfo } from './request.js';
import { DEFAULT_USERNAME_CHARS, parseRule, parseSkip, type AuthDbRule, type AuthDbSkip, type AuthDbSettings, type AuthSettings } from './settings.js';
import { ipInNetworks } from './networks.js';
import { parseKeyValues } from './var-expand.js';

export type AuthFailureReason = 'mismatch' | 'unknown' | 'disabled' | 'expired' | 'nologin' | 'invalid-user' | 'tempfail';

export type AuthResult =
  | {
      ok: true;
      user: string;
      masterUser?: string;
      /** The authenticating username as the client sent it, before normalisation. */
      originalUser?: string;
      userdbFields: Record<string, string>;
      passdbFields: Record<string, string>;
    }
  | {
      ok: false;
      reason: AuthFailureReason;
      message: string;
      /** The (normalised) user the request was about, when one was known. */
      user?: string;
      /** Set when a master user authenticated but could not log in as `user` (Dovecot: authz). */
      masterUser?: string;
      /** The authenticating username as the client sent it, before normalisation. */
      originalUser?: string;
      /** The passdb asked for the failure to be answered at once (`nodelay`). */
      nodelay?: boolean;
    };

export type AuthFailure = Extract<AuthResult, { ok: false }>;

export interface PlainAuthRequest extends AuthClientInfo {
  user: string;
  password: string;
  /** SASL authorization identity: log in as this user, authenticating `user` as a master user. */
  authzid?: string;
}

export type UserLookupResult = { found: true; user: string; fields: Record<string, string> } | { found: false; reason: 'unknown' | 'tempfail' };

export const AUTH_FAILED_MSG = 'Authentication failed.';
export const AUTH_TEMPFAIL_MSG = 'Temporary authentication failure.';

/** What passdbs and userdbs share in the chain: name, result_* rules, skip and field templates. */
interface ChainRules {
  name: string;
  success: AuthDbRule;
  failure: AuthDbRule;
  internalfail: AuthDbRule;
  skip: AuthDbSkip;
  defaultFields: [string, string][];
  overrideFields: [string, string][];
}

interface ConfiguredPassdb extends ChainRules {
  driver: PassdbDriver;
  master: boolean;
  pass: boolean;
  deny: boolean;
}

interface ConfiguredUserdb extends ChainRules {
  driver: UserdbDriver;
}

export interface AuthServiceOptions {
  accounts?: AccountStore;
  penalty?: AuthPenalty;
  /** Injectable for tests: waits `ms` milliseconds. */
  sleep?: (ms: number) => Promise<void>;
  logger?: Logger;
  /** Lua worker pool for `driver = lua` passdbs/userdbs. */
  lua?: LuaWorkerPool;
  /** auth_debug. */
  authDebug?: boolean;
}

/** How a passdb is used: check a plaintext password, fetch credentials, or only confirm the user exists. */
type PassdbMode = { kind: 'verify'; plain: string } | { kind: 'credentials'; scheme: string } | { kind: 'lookup' };

interface ChainOutcome {
  result: PassdbResultCode;
  credentials?: Buffer;
}

/** The chain rules of one passdb or userdb block. */
function chainRules(s: AuthDbSettings, kind: 'passdb' | 'userdb'): ChainRules {
  return {
    name: s.name ?? s.driver,
    success: parseRule(s.result_success, 'return-ok', 'result_success'),
    failure: parseRule(s.result_failure, 'continue', 'result_failure'),
    internalfail: parseRule(s.result_internalfail, 'continue', 'result_internalfail'),
    skip: parseSkip(s.skip, kind),
    defaultFields: parseKeyValues(s.default_fields ?? ''),
    overrideFields: parseKeyValues(s.override_fields ?? ''),
  };
}

export class AuthService {
  readonly penalty: AuthPenalty;
  private readonly passdbs: ConfiguredPassdb[];
  private readonly masterPassdbs: ConfiguredPassdb[];
  private readonly userdbs: ConfiguredUserdb[];
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly log: Logger;

  constructor(
    private readonly settings: AuthSettings,
    opts: AuthServiceOptions = {},
  ) {
    this.log = opts.logger ?? new Logger('auth: ');
    this.penalty = opts.penalty ?? new AuthPenalty();
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    const ctx = { logger: this.log, accounts: opts.accounts, lua: opts.lua, authDebug: opts.authDebug };
    const all = settings.passdbs.map((s): ConfiguredPassdb => {
      const mod = getAuthDriver(s.driver);
      if (!mod?.passdb) throw new Error(`Unknown passdb driver '${s.driver}'`);
      return {
        driver: mod.passdb(s.args, ctx),
        ...chainRules(s, 'passdb'),
        master: s.master ?? false,
        pass: s.pass ?? false,
        deny: s.deny ?? false,
      };
    });
    this.passdbs = all.filter((p) => !p.master);
    this.masterPassdbs = all.filter((p) => p.master);
    this.userdbs = settings.userdbs.map((s): ConfiguredUserdb => {
      const mod = getAuthDriver(s.driver);
      if (!mod?.userdb) throw new Error(`Unknown userdb driver '${s.driver}'`);
      return { driver: mod.userdb(s.args, ctx), ...chainRules(s, 'userdb') };
    });
  }

  /**
   * Waits for the drivers' startup work (Lua scripts: load, main chunk, script_init). Rejects with
   * the first fatal error, e.g. `passdb-lua: initialization failed: ...`, as Dovecot's auth
   * process would exit. Lookups before or without init() still work (they wait for the script).
   */
  async init(): Promise<void> {
    const drivers = [...this.passdbs, ...this.masterPassdbs, ...this.userdbs].map((d) => d.driver);
    await Promise.all(drivers.map((d) => d.init?.()));
  }

  /** Runs the drivers' shutdown (Lua: script_deinit). */
  async close(): Promise<void> {
    const drivers = [...this.passdbs, ...this.masterPassdbs, ...this.userdbs].map((d) => d.driver);
    await Promise.all(drivers.map((d) => d.close?.()));
  }

  /** auth_default_realm, auth_username_chars, auth_username_format (auth_request_fix_username). */
  normalizeUsername(user: string, info: AuthClientInfo): string | undefined {
    let u = user;
    const realm = this.settings.auth_default_realm;
    if (realm && !u.includes('@')) u = `${u}@${realm}`;
    const chars = this.settings.auth_username_chars ?? DEFAULT_USERNAME_CHARS;
    if (chars !== '' && [...u].some((c) => !chars.includes(c))) return undefined;
    const format = this.settings.auth_username_format ?? '%Lu';
    if (format) u = new AuthRequest(u, info).expand(format);
    return u;
  }

  async authenticatePlain(request: PlainAuthRequest): Promise<AuthResult> {
    return this.authenticate(request, request.user, request.authzid, { kind: 'verify', plain: request.password }, request.password);
  }

  /**
   * Starts a non-plaintext authentication (CRAM-MD5, SCRAM): fetches the credentials in `scheme`;
   * the mechanism checks the client's proof and calls `complete` with the outcome.
   */
  async lookupCredentials(
    request: AuthClientInfo & { user: string; authzid?: string; scheme: string },
  ): Promise<{ ok: true; credentials: Buffer; complete(verified: boolean): Promise<AuthResult> } | AuthFailure> {
    await this.penaltyDelay(request);
    const prepared = this.prepare(request, request.user, request.authzid);
    if ('ok' in prepared) return this.fail(request, prepared, request.user, undefined);
    const outcome = await this.runPassdbs(prepared, { kind: 'credentials', scheme: request.scheme });
    if (outcome.result !== 'ok' || !outcome.credentials) {
      return this.fail(request, this.failureOf(prepared, outcome.result === 'ok' ? 'internal' : outcome.result), request.user, undefined);
    }
    return {
      ok: true,
      credentials: outcome.credentials,
      complete: async (verified) => {
        if (!verified) {
          this.log.info(`${prepared.logPrefix('mech')}Password mismatch`);
          return this.fail(request, this.failureOf(prepared, 'mismatch'), request.user, undefined);
        }
        return this.finish(request, prepared);
      },
    };
  }

  /** Userdb lookup alone (LMTP delivery, doveadm user). */
  async lookupUser(user: string, service: string, info: Partial<AuthClientInfo> = {}): Promise<UserLookupResult> {
    const clientInfo = { ...info, service };
    const normalized = this.normalizeUsername(user, clientInfo);
    if (normalized === undefined) return { found: false, reason: 'unknown' };
    const req = new AuthRequest(normalized, clientInfo);
    req.skipPasswordCheck = true;
    const result = await this.runUserdbs(req);
    if (result === 'ok') return { found: true, user: req.user, fields: req.userdbFields };
    return { found: false, reason: result === 'internal' ? 'tempfail' : 'unknown' };
  }

  /** All users of every userdb that can list them (doveadm user '*'), each listed once. */
  async *iterateUsers(): AsyncIterable<string> {
    const seen = new Set<string>();
    for (const db of this.userdbs) {
      if (!db.driver.iterate) continue;
      for await (const user of db.driver.iterate()) {
        if (!seen.has(user)) {
          seen.add(user);
          yield user;
        }
      }
    }
  }

  // --- internals ---------------------------------------------------------------------------------

  private async authenticate(info: AuthClientInfo, user: string, authzid: string | undefined, mode: PassdbMode, password?: string): Promise<AuthResult> {
    await this.penaltyDelay(info);
    const prepared = this.prepare(info, user, authzid);
    if ('ok' in prepared) return this.fail(info, prepared, user, password);
    if (mode.kind === 'verify') prepared.password = mode.plain;
    const outcome = await this.runPassdbs(prepared, mode);
    if (outcome.result !== 'ok') return this.fail(info, this.failureOf(prepared, outcome.result), user, password);
    return this.finish(info, prepared);
  }

  private async penaltyDelay(info: AuthClientInfo): Promise<void> {
    const ms = info.remoteIp && !info.noPenalty ? this.penalty.delayMs(info.remoteIp) : 0;
    if (ms > 0) {
      observeAuthPenalty(ms);
      await this.sleep(ms);
    }
  }

  /** Builds the request: username normalisation and master-user split (`user*master` or authzid). */
  private prepare(info: AuthClientInfo, user: string, authzid: string | undefined): AuthRequest | AuthFailure {
    let loginUser = authzid && authzid !== user ? authzid : undefined;
    let authUser = user;
    const sep = this.settings.auth_master_user_separator;
    if (!loginUser && sep && user.includes(sep)) {
      const at = user.lastIndexOf(sep);
      loginUser = user.slice(0, at);
      authUser = user.slice(at + sep.length);
    }
    const normalized = this.normalizeUsername(authUser, info);
    if (normalized === undefined) {
      this.log.info(`${new AuthRequest(authUser, info).logPrefix('auth')}Username character disallowed by auth_username_chars`);
      return { ok: false, reason: 'invalid-user', message: AUTH_FAILED_MSG };
    }
    const req = new AuthRequest(normalized, info);
    req.clientUser = authUser;
    if (loginUser !== undefined) {
      const target = this.normalizeUsername(loginUser, info);
      if (target === undefined) return { ok: false, reason: 'invalid-user', message: AUTH_FAILED_MSG };
      req.masterUser = normalized;
      req.loginUser = target;
    }
    return req;
  }

  private async runPassdbs(req: AuthRequest, mode: PassdbMode): Promise<ChainOutcome> {
    if (req.loginUser === undefined) return this.runChain(this.passdbs, req, mode);
    if (this.masterPassdbs.length === 0) {
      this.log.info(`${req.logPrefix('auth')}Master user login attempted without master passdbs`);
      return { result: 'mismatch' };
    }
    // Authenticate the master, then continue as the requested user (auth_request_master_user_login).
    const master = await this.runChain(this.masterPassdbs, req, mode);
    if (master.result !== 'ok') return master;
    const passThrough = this.masterPassdbs.some((p) => p.pass);
    this.log.info(`${req.logPrefix('passdb')}Master user logging in as ${req.loginUser}`);
    req.user = req.loginUser;
    req.passdbFields = {};
    req.userdbFields = {};
    if (!passThrough) return master;
    // pass=yes: the target user must also exist in the normal passdbs (no password check).
    req.skipPasswordCheck = true;
    const target = await this.runChain(this.passdbs, req, { kind: 'lookup' });
    return target.result === 'ok' ? master : target;
  }

  /** One passdb chain with result_success/failure/internalfail and skip (auth_request_handle_passdb_callback). */
  private async runChain(dbs: ConfiguredPassdb[], req: AuthRequest, mode: PassdbMode): Promise<ChainOutcome> {
    let success = false;
    let seenInternal = false;
    let last: ChainOutcome | undefined;
    for (const db of dbs) {
      if (db.skip === 'authenticated' && req.skipPasswordCheck) continue;
      if (db.skip === 'unauthenticated' && !req.skipPasswordCheck) continue;
      const outcome = await this.runPassdb(db, req, mode);
      if (db.deny && outcome.result !== 'unknown') {
        // A deny passdb only lets the request through when it does not know the user.
        if (outcome.result === 'internal') return outcome;
        this.log.info(`${req.logPrefix(db.driver.driver)}User found from deny passdb`);
        return { result: 'disabled' };
      }
      if (db.deny) continue;
      last = outcome;
      if (outcome.result === 'internal') seenInternal = true;
      const rule: AuthDbRule =
        outcome.result === 'ok' ? db.success : outcome.result === 'next' ? 'continue' : outcome.result === 'internal' ? db.internalfail : db.failure;
      let next = false;
      switch (rule) {
        case 'return':
          success = success || outcome.result === 'ok';
          break;
        case 'return-ok':
          success = true;
          break;
        case 'return-fail':
          success = false;
          break;
        case 'continue':
          next = true;
          // The password was verified: later passdbs only look the user up (fields, checks).
          if (outcome.result === 'ok') req.skipPasswordCheck = true;
          break;
        case 'continue-ok':
          next = true;
          success = true;
          req.skipPasswordCheck = true;
          break;
        case 'continue-fail':
          next = true;
          success = false;
          break;
      }
      if (!next) break;
    }
    if (!last) {
      this.log.error(`${req.logPrefix('passdb')}All password databases were skipped`);
      return { result: 'internal' };
    }
    if (success) return { result: 'ok', credentials: last.credentials };
    if (seenInternal) return { result: 'internal' };
    return last.result === 'ok' ? { result: 'mismatch' } : last;
  }

  private async runPassdb(db: ConfiguredPassdb, req: AuthRequest, mode: PassdbMode): Promise<ChainOutcome> {
    const prefix = () => req.logPrefix(db.driver.driver);
    for (const [k, v] of db.defaultFields) this.setPassdbField(req, k, req.expand(v));
    let reply: PassdbReply | undefined;
    let verifiedByDriver = false;
    try {
      if (mode.kind === 'verify' && !req.skipPasswordCheck && db.driver.verify) {
        reply = await db.driver.verify(req, mode.plain);
        verifiedByDriver = reply !== undefined;
      }
      reply ??= await db.driver.lookup(req);
    } catch (err) {
      reply = { result: 'internal', error: (err as Error).message };
    }
    if (reply.result === 'unknown') {
      req.passdbsSeenUserUnknown = true;
      this.log.info(`${prefix()}unknown user`);
      return { result: 'unknown' };
    }
    if (reply.result === 'internal') {
      req.passdbsSeenInternalFailure = true;
      if (reply.error !== '') this.log.error(`${prefix()}${reply.error ?? 'internal failure'}`);
      return { result: 'internal' };
    }
    if (reply.result !== 'ok' && reply.result !== 'next') {
      // A driver may say why (sql: "Empty password returned without nopassword").
      if (reply.result === 'mismatch') this.log.info(`${prefix()}${reply.error ?? 'Password mismatch'}`);
      return { result: reply.result };
    }
    for (const [k, v] of Object.entries(reply.fields ?? {})) this.setPassdbField(req, k, v);
    for (const [k, v] of db.overrideFields) this.setPassdbField(req, k, req.expand(v));

    const allowNets = req.passdbFields.allow_nets;
    if (allowNets !== undefined && !ipInNetworks(req.info.remoteIp, allowNets)) {
      this.log.info(`${prefix()}allow_nets check failed: IP not in allowed networks`);
      return { result: 'mismatch' };
    }
    if (db.deny || req.skipPasswordCheck || mode.kind === 'lookup') return { result: reply.result };
    if (verifiedByDriver) return { result: reply.result };

    const nopassword = 'nopassword' in req.passdbFields;
    const password = reply.password ?? '';
    if (nopassword && password !== '') {
      this.log.info(`${prefix()}nopassword given and password is not empty`);
      return { result: 'mismatch' };
    }
    if (mode.kind === 'credentials') {
      if (nopassword || password === '') return { result: 'scheme-not-available' };
      const creds = await credentialsFor(password, mode.scheme, { defaultScheme: db.driver.defaultScheme, user: req.user });
      if ('error' in creds) {
        this.log.info(`${prefix()}${creds.error}`);
        return { result: 'scheme-not-available' };
      }
      return { result: reply.result, credentials: creds.credentials };
    }
    if (nopassword) return { result: reply.result };
    if (password === '') {
      this.log.info(`${prefix()}No password returned (and no nopassword)`);
      return { result: 'mismatch' };
    }
    const verified = await verifyPassword(mode.plain, password, { defaultScheme: db.driver.defaultScheme, user: req.user });
    if ('error' in verified) {
      this.log.error(`${prefix()}${verified.error}`);
      return { result: verified.unknownScheme ? 'scheme-not-available' : 'internal' };
    }
    if (!verified.ok) {
      this.log.info(`${prefix()}Password mismatch`);
      return { result: 'mismatch' };
    }
    return { result: reply.result };
  }

  /** Passdb extra-field semantics: `userdb_x` feeds the userdb reply, `user` renames the user. */
  private setPassdbField(req: AuthRequest, key: string, value: string): void {
    if (key.startsWith('userdb_')) req.userdbFields[key.slice(7)] = value;
    else if (key === 'user' && value) req.user = value;
    else req.passdbFields[key] = value;
  }

  private async runUserdbs(req: AuthRequest): Promise<'ok' | 'unknown' | 'internal'> {
    let found = false;
    let seenInternal = false;
    let last: 'ok' | 'unknown' | 'internal' | undefined;
    for (const db of this.userdbs) {
      if (db.skip === 'found' && found) continue;
      if (db.skip === 'notfound' && !found) continue;
      for (const [k, v] of db.defaultFields) req.userdbFields[k] ??= req.expand(v);
      let reply;
      try {
        reply = await db.driver.lookup(req);
      } catch (err) {
        reply = { result: 'internal' as const, error: (err as Error).message };
      }
      last = reply.result;
      if (reply.result === 'ok') {
        for (const [k, v] of Object.entries(reply.fields ?? {})) {
          if (k === 'user' && v) req.user = v;
          else req.userdbFields[k] = v;
        }
        for (const [k, v] of db.overrideFields) req.userdbFields[k] = req.expand(v);
      } else if (reply.result === 'internal') {
        seenInternal = true;
        req.userdbsSeenInternalFailure = true;
        // Dovecot logs on the auth-db event: `lua(user): userdb-lua: <error>`.
        if (reply.error !== '') this.log.error(`${req.logPrefix(db.driver.driver)}${reply.error ?? 'internal failure'}`);
      } else {
        this.log.info(`${req.logPrefix(db.driver.driver)}unknown user`);
      }
      const rule = reply.result === 'ok' ? db.success : reply.result === 'internal' ? db.internalfail : db.failure;
      if (rule === 'return-ok' || rule === 'continue-ok' || (rule === 'return' && reply.result === 'ok')) found = true;
      if (rule === 'return-fail' || rule === 'continue-fail') found = false;
      if (rule === 'continue' && reply.result === 'ok') found = true;
      if (!rule.startsWith('continue')) break;
    }
    if (last === undefined) return 'internal';
    if (found) return 'ok';
    return seenInternal ? 'internal' : 'unknown';
  }

  /** After a successful passdb: nologin, userdb lookup, penalty reset (auth-only: neither of the first two). */
  private async finish(info: AuthClientInfo, req: AuthRequest): Promise<AuthResult> {
    if ('nologin' in req.passdbFields && !info.authOnly) {
      const reason = req.passdbFields.reason;
      this.log.info(`${req.logPrefix('passdb')}Login disabled${reason ? `: ${reason}` : ''}`);
      return this.fail(info, { ok: false, reason: 'nologin', message: reason || AUTH_FAILED_MSG }, req.user, undefined);
    }
    req.skipPasswordCheck = true;
    const userdb = this.userdbs.length === 0 || info.authOnly ? 'ok' : await this.runUserdbs(req);
    if (userdb !== 'ok') {
      this.log.error(`${req.logPrefix('userdb')}user not found from any userdbs`);
      return this.fail(info, userdb === 'internal' ? this.failureFor('internal') : { ok: false, reason: 'unknown', message: AUTH_FAILED_MSG }, req.user, undefined);
    }
    if (info.remoteIp && !info.noPenalty) this.penalty.success(info.remoteIp);
    return {
      ok: true,
      user: req.user,
      masterUser: req.masterUser,
      originalUser: req.clientUser,
      userdbFields: req.userdbFields,
      passdbFields: req.passdbFields,
    };
  }

  /** A passdb chain failure with what the protocol layers report besides the reason. */
  private failureOf(req: AuthRequest, result: PassdbResultCode): AuthFailure {
    const failure: AuthFailure = { ...this.failureFor(result), user: req.user };
    if (req.clientUser !== undefined && req.clientUser !== req.user) failure.originalUser = req.clientUser;
    if (req.masterUser !== undefined && req.user === req.loginUser) failure.masterUser = req.masterUser;
    if ('nodelay' in req.passdbFields) failure.nodelay = true;
    return failure;
  }

  private failureFor(result: PassdbResultCode): AuthFailure {
    switch (result) {
      case 'internal':
      case 'scheme-not-available':
        return { ok: false, reason: 'tempfail', message: AUTH_TEMPFAIL_MSG };
      case 'unknown':
        return { ok: false, reason: 'unknown', message: AUTH_FAILED_MSG };
      case 'disabled':
        return { ok: false, reason: 'disabled', message: AUTH_FAILED_MSG };
      case 'expired':
        return { ok: false, reason: 'expired', message: 'Password expired.' };
      default:
        return { ok: false, reason: 'mismatch', message: AUTH_FAILED_MSG };
    }
  }

  /** Every failure: raise the IP's penalty (not for temporary failures) and wait auth_failure_delay. */
  private async fail(info: AuthClientInfo, failure: AuthFailure, user: string, password: string | undefined): Promise<AuthFailure> {
    if (info.remoteIp && !info.noPenalty && failure.reason !== 'tempfail') this.penalty.failure(info.remoteIp, user, password);
    const delaySecs = this.settings.auth_failure_delay ?? 2;
    if (delaySecs > 0 && !failure.nodelay) await this.sleep(delaySecs * 1000);
    return failure;
  }
}
