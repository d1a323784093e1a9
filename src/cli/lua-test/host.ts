// The main-thread side of one Lua test file: answers the `roost.test` calls of runner-worker.ts
// with the real server pieces `roost serve` uses — the configuration parser, the auth service
// (Lua passdb/userdb included), the mail-user service with the mail-lua and push-notification
// plugins, the delivery service LMTP uses, and a Lua worker pool with the configured limits — on
// a temporary data folder per test, deleted afterwards.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseConfigText, type Settings } from '../../config/index.js';
import { formatLogLine } from '../../log/logger.js';
import { deliver, prepareMessage, traceHeaders } from '../../mail-user/delivery.js';
import { MailUserInitError } from '../../mail-user/hooks.js';
import { analyse } from '../../lua/script-check.js';
import type { HttpGateway, StubResponse } from './http-gateway.js';
import { toLuaLiteral } from './lua-literal.js';
import type { RecordingPool } from './recording-pool.js';
import { displayPath, formatWarning } from './paths.js';
import { compatibilityNotes, scratchDir, TestEnv } from './test-env.js';

/** What the runner prints and writes to JUnit for one test. */
export interface TestResult {
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  /** Failure text: the assertion's `file:line: ...` and diff, or the error with its traceback. */
  message?: string;
  /** The failure was an error raised (not an assertion). */
  error?: boolean;
  durationMs: number;
  /** Compatibility notes seen at run time (errors Roost raises where Dovecot would crash). */
  notes: string[];
}

export interface FileReport {
  file: string;
  displayName: string;
  results: TestResult[];
  /** A load error: the test file or a script under test does not compile or load. */
  loadError?: string;
  /** Static compatibility warnings of the scripts under test, `file:line: message`. */
  warnings: string[];
  /** Script files the tests load (for --watch). */
  scripts: string[];
}

class HostError extends Error {}

interface SetupOptions {
  mail_lua_script?: string;
  push_driver?: string;
  passdb?: string;
  userdb?: string;
  plugin?: Record<string, unknown>;
  settings?: Record<string, unknown>;
  config?: string;
}

interface MessageInput {
  raw?: string;
  eml?: string;
  from?: string;
  to?: string;
  subject?: string;
  date?: string;
  message_id?: string;
  body?: string;
  headers?: Record<string, string>;
  flags?: string[];
  keywords?: string[];
}

let nextSessionId = 1;

export class TestFileHost {
  readonly report: FileReport;
  private setupDone = false;
  private configText = '';
  private env: TestEnv | null = null;
  private started = 0;
  private readonly dir: string;

  constructor(
    readonly file: string,
    displayName: string,
    private readonly gateway: HttpGateway,
    /** The run's pools, one per set of Lua limits (a pool starts in about 0.3 s: files share it). */
    private readonly poolFor: (settings: Settings) => RecordingPool,
  ) {
    this.dir = path.dirname(file);
    this.report = { file, displayName, results: [], warnings: [], scripts: [] };
  }

  /** Answers one `roost.test` call: a Lua table constructor `{ ok = ..., value|error = ... }`. */
  async handle(op: string, argsJson: string): Promise<string> {
    try {
      if (op === 'load_error') {
        this.report.loadError ??= argsJson;
        return toLuaLiteral({ ok: true });
      }
      const value = await this.dispatch(op, JSON.parse(argsJson) as Record<string, unknown>);
      return toLuaLiteral({ ok: true, value: value ?? null });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      return toLuaLiteral({ ok: false, error: message });
    }
  }

  async close(): Promise<void> {
    if (this.env) await this.endTest();
  }

  private resolve(p: string): string {
    return path.resolve(this.dir, p);
  }

  private requireEnv(): TestEnv {
    if (!this.env) throw new HostError('this works inside t.test(...) only');
    if (this.env.initError) throw new HostError(this.env.initError);
    return this.env;
  }

  private async dispatch(op: string, a: Record<string, unknown>): Promise<unknown> {
    switch (op) {
      case 'setup':
        return this.setup(a as SetupOptions);
      case 'begin':
        return this.beginTest();
      case 'finish':
        return this.finishTest(a as { name: string; message?: string; error?: boolean });
      case 'skip':
        this.report.results.push({ name: String(a.name), status: 'skipped', durationMs: 0, notes: [] });
        return null;
      case 'path':
        return this.resolve(String(a.path));
    }
    const env = this.requireEnv();
    switch (op) {
      case 'user':
        return this.addUser(env, String(a.name), (a.opts ?? {}) as { password?: string; fields?: Record<string, unknown>; plugin?: Record<string, unknown>; quota_rule?: string });
      case 'mailbox': {
        const o = (a.opts ?? {}) as { special_use?: string | string[]; subscribed?: boolean };
        return env.fixtureStore(String(a.user), (store) => {
          const name = String(a.name);
          const specialUse = o.special_use === undefined ? undefined : ([] as string[]).concat(o.special_use);
          if (!store.getMailbox(name)) store.createMailbox(name, specialUse ? { specialUse } : undefined);
          else if (specialUse) store.setSpecialUse(name, specialUse);
          if (o.subscribed) store.setSubscribed(name, true);
          return null;
        });
      }
      case 'message': {
        const msg = a.message as MessageInput;
        const content = this.messageBytes(msg);
        const flags = [...(msg.flags ?? []), ...(msg.keywords ?? [])];
        return env.fixtureStore(String(a.user), (store) => {
          const mailbox = String(a.mailbox);
          if (!store.getMailbox(mailbox)) store.createMailbox(mailbox);
          const prepared = prepareMessage(content);
          return store.append(mailbox, { content, flags, mimeStructure: prepared.mimeStructure }).uid;
        });
      }
      case 'set_metadata':
        return env.fixtureStore(String(a.user), (store) => {
          store.setMetadata(String(a.mailbox), String(a.key), a.value === null || a.value === undefined ? null : Buffer.from(String(a.value)));
          return null;
        });
      case 'metadata':
        return env.fixtureStore(String(a.user), (store) => store.getMetadata(String(a.mailbox), [String(a.key)])[0]?.value.toString('utf8') ?? null);
      case 'mailboxes':
        return env.fixtureStore(String(a.user), (store) => store.listMailboxes().filter((m) => !m.noselect).map((m) => m.name));
      case 'messages':
        return env.fixtureStore(String(a.user), (store) => {
          const box = store.getMailbox(String(a.mailbox));
          if (!box) throw new HostError(`no such mailbox: ${String(a.mailbox)}`);
          return store.listMessages(box.id).map((m) => {
            const head = store.openBody(m.bodyId).read(0, 64 * 1024).toString('utf8');
            const header = (name: string) => new RegExp(`^${name}:[ \\t]*(.*(?:\\r?\\n[ \\t].*)*)`, 'im').exec(head.split(/\r?\n\r?\n/)[0] ?? '')?.[1]?.trim() ?? null;
            return {
              uid: m.uid,
              flags: m.flags.filter((f) => f.startsWith('\\')),
              keywords: m.flags.filter((f) => !f.startsWith('\\')),
              size: m.size,
              subject: header('Subject'),
              from: header('From'),
            };
          });
        });
      case 'session_begin':
        return this.sessionBegin(env, String(a.user), String(a.service));
      case 'session_op':
        return this.sessionOp(env, Number(a.session), String(a.op), (a.args ?? []) as unknown[]);
      case 'session_end': {
        const id = Number(a.session);
        const user = env.sessions.get(id);
        if (!user) return { ok: true };
        env.sessions.delete(id);
        await env.ctx.mailUsers.destroyUser(user);
        await env.plugins.drain();
        return { ok: true };
      }
      case 'deliver':
        return this.deliver(env, String(a.user), a.message as MessageInput, (a.opts ?? {}) as { mailbox?: string; from?: string });
      case 'passdb':
        return this.passdb(env, a);
      case 'userdb': {
        const before = env.hooks.length;
        const r = await env.ctx.auth.lookupUser(String(a.user), String(a.service ?? 'imap'), clientInfo(a));
        const code = env.hooks.slice(before).find((h) => h.name === 'auth_userdb_lookup')?.returned?.[0] ?? null;
        return r.found ? { found: true, user: r.user, fields: r.fields, code } : { found: false, reason: r.reason, code };
      }
      case 'logs':
        return env.logs.map((r) => formatLogLine(r));
      case 'hooks':
        return env.hooks.filter((h) => a.name === undefined || a.name === null || h.name === a.name);
      case 'http_stub':
        env.http.stub(String(a.pattern), a.response as StubResponse | StubResponse[]);
        return null;
      case 'http_allow':
        env.http.allow(String(a.pattern));
        return null;
      case 'http_requests':
        return env.http.requests;
      default:
        throw new HostError(`roost.test: unknown operation ${op}`);
    }
  }

  private async setup(o: SetupOptions): Promise<Array<{ name: string; source: string }>> {
    if (this.setupDone) throw new HostError('t.setup may be called once per file, before the tests');
    this.setupDone = true;
    const lines: string[] = [];
    const plugin: Record<string, string> = {};
    const plugins: string[] = [];
    const scripts: string[] = [];
    if (o.mail_lua_script) {
      const p = this.resolve(o.mail_lua_script);
      scripts.push(p);
      plugins.push('mail_lua');
      plugin.mail_lua_script = p;
    }
    if (o.push_driver) {
      const p = this.resolve(o.push_driver);
      scripts.push(p);
      plugins.push('mail_lua', 'notify', 'push_notification', 'push_notification_lua');
      plugin.push_notification_driver = `lua:file=${p}`;
    }
    for (const [k, v] of Object.entries(o.plugin ?? {})) plugin[k] = String(v);
    if (plugins.length) lines.push(`mail_plugins = $mail_plugins ${[...new Set(plugins)].join(' ')}`);
    for (const [k, v] of Object.entries(o.settings ?? {})) lines.push(`${k} = ${String(v)}`);
    for (const [kind, file] of [['passdb', o.passdb], ['userdb', o.userdb]] as const) {
      if (!file) continue;
      const p = this.resolve(file);
      scripts.push(p);
      lines.push(`${kind} {`, '  driver = lua', `  args = file=${p}`, '}');
    }
    // After a Lua userdb, the built-in accounts (t.user) answer for the users it does not know.
    // A Lua passdb alone: users still come from the built-in userdb, as after a Dovecot login.
    if (o.userdb) lines.push('userdb {', '  driver = roost', '}');
    if (Object.keys(plugin).length) {
      lines.push('plugin {', ...Object.entries(plugin).map(([k, v]) => `  ${k} = ${v}`), '}');
    }
    if (o.config) lines.push(o.config);
    this.configText = lines.join('\n') + '\n';
    this.report.scripts = scripts;
    // The runner's Lua compiles each script (roost-test.lua, M.setup): one that does not compile
    // is a load error (exit 2) with Lua's own file:line. The tree checks run here.
    const sources: Array<{ name: string; source: string }> = [];
    for (const s of scripts) {
      const name = displayPath(s);
      let source: string;
      try {
        source = readFileSync(s, 'utf8').replace(/^#[^\n]*/, '');
      } catch (e) {
        throw new HostError(`${name}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (e as Error).message}`);
      }
      sources.push({ name, source });
      for (const w of analyse(source).warnings) this.report.warnings.push(formatWarning(name, w));
    }
    return sources;
  }

  private settingsFor(dataDir: string): Settings {
    // Every test gets its own data folder; failed logins are not delayed (auth_failure_delay).
    const text = `data_dir = ${dataDir}\nauth_failure_delay = 0\nmail_fsync = never\nlog_path = /dev/stderr\n${this.configText}`;
    return parseConfigText(text, this.report.displayName).settings;
  }

  private async beginTest(): Promise<null> {
    if (this.env) await this.endTest();
    const dir = mkdtempSync(path.join(scratchDir(), 'roost-lua-test-'));
    let settings: Settings;
    try {
      settings = this.settingsFor(dir);
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      this.report.loadError ??= `${this.report.displayName}: t.setup: ${e instanceof Error ? e.message : String(e)}`;
      throw e;
    }
    this.env = new TestEnv(dir, settings, this.poolFor(settings));
    this.gateway.current = this.env.http;
    this.started = performance.now();
    await this.env.start();
    return null;
  }

  private async endTest(): Promise<TestEnv | null> {
    const env = this.env;
    this.env = null;
    if (!env) return null;
    this.gateway.current = null;
    try {
      await env.stop();
    } catch (e) {
      env.notes.push(`teardown: ${e instanceof Error ? e.message : String(e)}`);
    }
    return env;
  }

  private async finishTest(r: { name: string; message?: string; error?: boolean }): Promise<null> {
    const env = await this.endTest();
    const notes = env ? [...env.notes, ...compatibilityNotes(env, this.report.scripts)] : [];
    const durationMs = performance.now() - this.started;
    // An auth script that did not start fails the test even when the test never asked it anything.
    const message = r.message ?? (env?.initError ? `${this.report.displayName}: ${env.initError}` : undefined);
    this.report.results.push({
      name: r.name,
      status: message === undefined ? 'passed' : 'failed',
      ...(message !== undefined ? { message, error: r.error === true || r.message === undefined } : {}),
      durationMs,
      notes,
    });
    return null;
  }

  private async addUser(
    env: TestEnv,
    name: string,
    o: { password?: string; fields?: Record<string, unknown>; plugin?: Record<string, unknown>; quota_rule?: string },
  ): Promise<null> {
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...(o.plugin ?? {}), ...(o.fields ?? {}) })) fields[k] = String(v);
    const password = o.password === undefined ? null : /^\{[A-Za-z0-9._-]+\}/.test(o.password) ? o.password : `{PLAIN}${o.password}`;
    await env.ctx.serverDb.addUser({ username: name, password, fields, quotaRule: o.quota_rule ?? null });
    // Creates the user's database here, so its set-up is not logged from inside a script's call.
    if (!env.settings.userdb.some((d) => d.driver === 'lua')) await env.fixtureStore(name, () => null);
    return null;
  }

  private messageBytes(m: MessageInput): Buffer {
    if (m.raw !== undefined) return Buffer.from(m.raw.replace(/\r?\n/g, '\r\n'));
    if (m.eml !== undefined) return readFileSync(this.resolve(m.eml));
    const h: string[] = [];
    h.push(`From: ${m.from ?? 'sender@example.com'}`);
    h.push(`To: ${m.to ?? 'user@example.com'}`);
    if (m.subject !== undefined) h.push(`Subject: ${m.subject}`);
    h.push(`Date: ${m.date ?? 'Thu, 06 Mar 2025 10:00:30 +0000'}`);
    h.push(`Message-ID: ${m.message_id ?? `<${Date.now()}.${Math.random().toString(36).slice(2)}@roost.test>`}`);
    for (const [k, v] of Object.entries(m.headers ?? {})) h.push(`${k}: ${v}`);
    h.push('MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8');
    return Buffer.from(`${h.join('\r\n')}\r\n\r\n${(m.body ?? '').replace(/\r?\n/g, '\r\n')}`);
  }

  private async sessionBegin(env: TestEnv, username: string, service: string): Promise<unknown> {
    const found = await env.ctx.auth.lookupUser(username, service);
    if (!found.found) throw new HostError(`user lookup failed for ${username}: ${found.reason}`);
    try {
      const user = await env.ctx.mailUsers.createUser({ username: found.user, service, userdbFields: found.fields, remoteIp: '127.0.0.1', localIp: '127.0.0.1' });
      const id = nextSessionId++;
      env.sessions.set(id, user);
      return { ok: true, id };
    } catch (e) {
      if (e instanceof MailUserInitError) return { ok: false, error: e.message };
      throw e;
    }
  }

  private async sessionOp(env: TestEnv, id: number, op: string, args: unknown[]): Promise<unknown> {
    const user = env.sessions.get(id);
    if (!user) throw new HostError('the session has ended');
    const store = user.getStore();
    const box = async (name: unknown) => {
      const b = await store.getMailbox(String(name));
      if (!b) throw new HostError(`no such mailbox: ${String(name)}`);
      return b;
    };
    const flagList = (v: unknown) => (Array.isArray(v) ? v.map(String) : [String(v)]);
    // One UID or a list: a list is one transaction, as `UID STORE 1,2 +FLAGS` is.
    const uidList = (v: unknown) => (Array.isArray(v) ? v.map(Number) : [Number(v)]);
    switch (op) {
      case 'create_mailbox':
        await store.createMailbox(String(args[0]));
        return null;
      case 'delete_mailbox':
        await store.deleteMailbox(String(args[0]));
        return null;
      case 'rename_mailbox':
        await store.renameMailbox(String(args[0]), String(args[1]));
        return null;
      case 'subscribe':
      case 'unsubscribe':
        await store.setSubscribed(String(args[0]), op === 'subscribe');
        return null;
      case 'append': {
        const msg = (typeof args[1] === 'string' ? { raw: args[1] } : args[1]) as MessageInput;
        const content = this.messageBytes(msg);
        const flags = [...(msg.flags ?? []), ...(msg.keywords ?? [])];
        const r = await store.durably(() => store.append(String(args[0]), { content, flags, mimeStructure: prepareMessage(content).mimeStructure, origin: 'append' }));
        return r.uid;
      }
      case 'add_flags':
      case 'remove_flags':
      case 'set_flags': {
        const operation = op === 'add_flags' ? 'add' : op === 'remove_flags' ? 'remove' : 'set';
        await store.storeFlags((await box(args[0])).id, { uids: uidList(args[1]), operation, flags: flagList(args[2]) });
        return null;
      }
      case 'copy':
      case 'move': {
        const r = await store[op]((await box(args[0])).id, uidList(args[1]), String(args[2]));
        return Array.isArray(args[1]) ? r.destUids : (r.destUids[0] ?? null);
      }
      case 'expunge': {
        const id2 = (await box(args[0])).id;
        const uids = uidList(args[1]);
        await store.storeFlags(id2, { uids, operation: 'add', flags: ['\\Deleted'] });
        await store.expunge(id2, uids);
        return null;
      }
      default:
        throw new HostError(`unknown session operation ${op}`);
    }
  }

  private async deliver(env: TestEnv, username: string, msg: MessageInput, o: { mailbox?: string; from?: string }): Promise<unknown> {
    const found = await env.ctx.auth.lookupUser(username, 'lmtp');
    if (!found.found) throw new HostError(`user lookup failed for ${username}: ${found.reason}`);
    const content = Buffer.concat([
      traceHeaders({ envelopeFrom: o.from ?? msg.from ?? 'sender@example.com', deliveryAddress: username }),
      this.messageBytes(msg),
    ]);
    const r = await deliver(env.ctx, {
      username: found.user,
      userdbFields: found.fields,
      service: 'lmtp',
      ...(o.mailbox ? { mailbox: o.mailbox } : {}),
      message: prepareMessage(content),
    });
    await env.plugins.drain();
    return r.ok ? { ok: true, uid: r.uid, mailbox: r.mailbox } : { ok: false, error: r.failure.text, code: r.failure.code };
  }

  private async passdb(env: TestEnv, a: Record<string, unknown>): Promise<unknown> {
    const before = env.hooks.length;
    const r = await env.ctx.auth.authenticatePlain({
      user: String(a.user),
      password: String(a.password ?? ''),
      ...clientInfo(a),
      mech: String(a.mech ?? 'PLAIN'),
    });
    // The code the script returned (its first result), when a Lua passdb ran.
    const call = env.hooks.slice(before).find((h) => h.name === 'auth_password_verify' || h.name === 'auth_passdb_lookup');
    const code = call?.returned?.[0] ?? null;
    if (r.ok) return { ok: true, user: r.user, fields: r.passdbFields, userdb_fields: r.userdbFields, code };
    return { ok: false, reason: r.reason, error: r.message, code, ...(call?.error ? { script_error: call.error } : {}) };
  }
}

/** Request fields of t.passdb / t.userdb. Without remote_ip (as `doveadm auth test`) no brute-force penalty applies. */
function clientInfo(a: Record<string, unknown>) {
  return {
    service: String(a.service ?? 'imap'),
    ...(a.remote_ip !== undefined && a.remote_ip !== null ? { remoteIp: String(a.remote_ip) } : {}),
    ...(a.local_ip !== undefined && a.local_ip !== null ? { localIp: String(a.local_ip) } : {}),
    secured: a.secured === undefined ? true : Boolean(a.secured),
  };
}
