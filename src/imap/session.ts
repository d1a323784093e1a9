// One IMAP session (RFC 3501 §3): the state machine not-authenticated → authenticated ⇄ selected →
// logout, the logged-in mail user and its store, the selected mailbox view, and the dispatch of
// each parsed command to its handler with the state check, error rendering and the untagged
// updates that may be announced before the tagged reply (RFC 3501 §7.4.1, §5.2).
import { observeImapCommand } from '../metrics/metrics.js';
import type { AuthResult, AuthService } from '../auth/index.js';
import type { Settings } from '../config/index.js';
import { Logger } from '../log/logger.js';
import type { ServerContext } from '../mail-user/context.js';
import { MailUserInitError } from '../mail-user/hooks.js';
import { newLoginSessionId } from '../mail-user/session-id.js';
import type { MailUser } from '../mail-user/mail-user.js';
import { StorageError, type ChangeNotice, type UserStore } from '../storage/types.js';
import { postLoginCapabilities, preLoginCapabilities } from './capabilities.js';
import type { CommandContext, SessionExtension, SessionHooks, SessionState, SessionStats } from './commands/context.js';
import type { ResponseSink } from './commands/fetch-output.js';
import { HANDLERS, SESSION_HOOKS } from './commands/index.js';
import type { CommandHandler, CommandResult } from './commands/types.js';
import type { ImapConnection } from './connection.js';
import { encodeMailboxName, errorLine, parseCommand, taggedLine, type ImapArg, type ImapCommand, type ReaderEvent } from './protocol/index.js';
import { performance } from 'node:perf_hooks';
import type { SelectedMailbox } from './selected-mailbox.js';
import { utf8MailboxNames } from './commands/imap4rev2.js';
import type tls from 'node:tls';

export type { SessionState, SessionStats } from './commands/context.js';

/** What all sessions of one server share. */
export interface ServerShared {
  ctx: ServerContext;
  /** The effective `protocol imap { }` settings. */
  settings: Settings;
  tlsContext: tls.SecureContext | null;
  /**
   * Dovecot's "secured" without TLS: the client connects from the server's own IP (loopback).
   * Injectable so tests on loopback can play a remote client.
   */
  isTrustedConnection(conn: { remoteIp: string; localIp: string }): boolean;
  /** Logged-in sessions per `user\0ip` (mail_max_userip_connections). */
  userIpCounts: Map<string, number>;
  loginLog: Logger;
  /** A session logged in: it no longer counts against the pre-login client_limit. */
  onLoggedIn?(session: ImapSession): void;
}

/** imap-login's reply to any command it cannot run (Dovecot 2.3.19, verified). */
const PRELOGIN_ERROR = 'Error in IMAP command received by server.';
/**
 * Parser refusals imap-login does not hide: an undecodable SASL-IR goes to the auth server, whose
 * INVALID_BASE64 failure imap-login answers with `BAD <reason>` (client_auth_result).
 */
const PRELOGIN_VISIBLE = new Set(['Invalid base64 data in initial response']);

export const INTERNAL_ERROR = 'Internal error occurred. Refer to server log for more information.';

export class ImapSession implements CommandContext {
  /** Changed only by the transitions below (login, select, unselect, end). */
  state: SessionState = 'not-authenticated';
  user: MailUser<UserStore> | null = null;
  private storeRef: UserStore | null = null;
  selected: SelectedMailbox | null = null;
  private readonly extensions = new Set<SessionExtension>();
  private readonly hooks = new Set<SessionHooks>();

  // ---- transitions ----

  select(view: SelectedMailbox, noticed: readonly ChangeNotice[] = []): void {
    this.unselect();
    this.selected = view;
    this.state = 'selected';
    for (const n of noticed) this.noteSelectedChange(n);
    for (const h of this.hooks) h.selected?.(view);
  }

  unselect(): void {
    const view = this.selected;
    if (!view) return;
    this.selected = null;
    if (this.state === 'selected') this.state = 'authenticated';
    for (const h of this.hooks) h.unselected?.(view);
  }

  /**
   * RFC 7162 §3.1: CONDSTORE is enabled by ENABLE, SELECT (CONDSTORE) or any command that uses it;
   * turning it on while a mailbox is selected tells the client where it starts from (Dovecot's
   * client_enable() sends `* OK [HIGHESTMODSEQ n] Highest`). RFC 7162 §3.2.3: QRESYNC implies it.
   */
  async enableExtension(extension: SessionExtension): Promise<boolean> {
    if (this.extensions.has(extension)) return false;
    this.extensions.add(extension);
    if (extension === 'QRESYNC') await this.enableExtension('CONDSTORE');
    if (extension === 'CONDSTORE' && this.selected && this.state === 'selected') {
      // Dovecot's mailbox_enable(): the selected mailbox tracks modseqs from now on.
      const view = this.selected;
      await this.store.enableModseqTracking(view.id);
      this.respond(`* OK [HIGHESTMODSEQ ${view.highestModseq}] Highest\r\n`);
    }
    for (const h of this.hooks) h.enabled?.(extension);
    return true;
  }

  isEnabled(extension: SessionExtension): boolean {
    return this.extensions.has(extension);
  }

  addHooks(hooks: SessionHooks): () => void {
    this.hooks.add(hooks);
    return () => this.hooks.delete(hooks);
  }

  // ---- responses ----

  respond(...lines: string[]): void {
    for (const line of lines) this.conn.write(line);
  }

  responseSink(): ResponseSink {
    return this.conn.sink();
  }

  get compressionActive(): boolean {
    return this.conn.compressed;
  }

  startCompression(): void {
    this.conn.startCompression();
  }

  get client(): ImapConnection {
    return this.conn;
  }

  get auth(): AuthService {
    return this.shared.ctx.auth;
  }

  startTls(okLine: string): Promise<void> | null {
    const context = this.shared.tlsContext;
    if (!context) return null;
    this.respond(okLine);
    return this.conn.drain().then(() => this.conn.startTls(context));
  }

  async logout(...lines: string[]): Promise<void> {
    this.respond(...lines);
    await this.end('logout');
    this.conn.close();
  }
  /** RFC 5182: UIDs saved by the last `SEARCH RETURN (SAVE)`, for `$`. */
  savedSearch: number[] | null = null;
  /** A plugin's created hook failed: the next command gets BYE (Dovecot). */
  private initFailed = false;
  private badCommands = 0;
  private unsubscribeChanges: (() => void) | null = null;
  /** Wakes IDLE when a change notice arrives. */
  private wakeIdle: (() => void) | null = null;
  private userIpKey: string | null = null;
  readonly stats: SessionStats = { deleted: 0, expunged: 0, trashed: 0, fetchHdrCount: 0, fetchHdrBytes: 0, fetchBodyCount: 0, fetchBodyBytes: 0 };
  readonly log = new Logger('imap-login: ');
  /** Dovecot's session id: given at connect, logged by imap-login and kept by the mail user. */
  readonly sessionId: string;
  /** When the client connected (ms since the epoch); `roost who` shows the age. */
  readonly connectedAt = Date.now();
  private ended = false;
  /** Login attempts for the imap-login disconnect line. */
  private authAttempts = 0;
  private lastAuth: { user: string; method: string } | null = null;
  /** Why the server ended a connection that had not logged in (for imap-login's disconnect line). */
  disconnectReason: string | null = null;

  constructor(
    readonly shared: ServerShared,
    readonly conn: ImapConnection,
  ) {
    this.sessionId = newLoginSessionId(conn.remoteIp, conn.remotePort);
    for (const hooksFor of SESSION_HOOKS) this.addHooks(hooksFor(this));
  }

  get settings(): Settings {
    return this.shared.settings;
  }

  get store(): UserStore {
    if (!this.storeRef) throw new Error('No store before login');
    return this.storeRef;
  }

  async withUserStore<T>(username: string, fn: (store: UserStore) => T | Promise<T>): Promise<T | null> {
    if (this.user && username === this.user.username) return fn(this.store);
    const found = await this.auth.lookupUser(username, 'imap-urlauth', { localIp: this.conn.localIp, remoteIp: this.conn.remoteIp });
    if (!found.found) return null;
    const owner = await this.shared.ctx.mailUsers.createUser({
      username: found.user,
      service: 'imap-urlauth',
      userdbFields: found.fields,
      localIp: this.conn.localIp,
      remoteIp: this.conn.remoteIp,
      localPort: this.conn.localPort,
      remotePort: this.conn.remotePort,
      sessionId: this.sessionId,
    });
    try {
      return await fn(await owner.openStore());
    } finally {
      await this.shared.ctx.mailUsers.destroyUser(owner);
    }
  }

  /** TLS or a trusted (local) connection: Dovecot's `secured`. */
  get secured(): boolean {
    return this.conn.secured || this.shared.isTrustedConnection(this.conn);
  }

  /** disable_plaintext_auth applies: LOGIN and plaintext SASL are refused. */
  get plaintextAuthDisabled(): boolean {
    return this.settings.disable_plaintext_auth && !this.secured;
  }

  get starttlsAvailable(): boolean {
    return this.shared.tlsContext !== null && !this.conn.secured;
  }

  capabilities(): string[] {
    if (this.state === 'not-authenticated') {
      const mechanisms = this.settings.auth_mechanisms.map((m) => m.toUpperCase());
      return preLoginCapabilities({
        starttls: this.starttlsAvailable,
        loginDisabled: this.plaintextAuthDisabled,
        // Dovecot hides plaintext mechanisms where they would be refused.
        mechanisms: this.plaintextAuthDisabled ? mechanisms.filter((m) => m !== 'PLAIN' && m !== 'LOGIN') : mechanisms,
        literalMinus: this.settings.imap_literal_minus,
      });
    }
    return postLoginCapabilities({
      metadata: this.settings.imap_metadata,
      urlauth: this.settings.imap_urlauth_host !== '',
      literalMinus: this.settings.imap_literal_minus,
      override: this.settings.imap_capability,
      appendLimit: this.settings.mail_max_message_size,
    });
  }

  greet(): void {
    this.conn.write(`* OK [CAPABILITY ${this.capabilities().join(' ')}] ${this.settings.login_greeting}\r\n`);
    this.conn.setTimeout(this.settings.imap_login_timeout);
  }

  // ---- dispatch ----

  async onEvent(ev: ReaderEvent): Promise<void> {
    // Unsolicited output that began between commands (NOTIFY) ends before the next command runs:
    // its storage reads and lines must not interleave with the command's.
    while (this.betweenCommands) await this.betweenCommands;
    if (this.initFailed) {
      this.conn.close(`* BYE ${INTERNAL_ERROR}\r\n`);
      return;
    }
    if (ev.kind === 'line') return;
    if (ev.kind === 'error') {
      this.conn.write(errorLine(ev.error));
      if (ev.error.status === 'BAD') this.countBad();
      return;
    }
    const started = performance.now();
    // RFC 6855 §3, RFC 9051: after ENABLE UTF8=ACCEPT or IMAP4rev2 mailbox names arrive as UTF-8.
    const parsed = parseCommand(ev.tag, ev.name, ev.args, { utf8Accept: utf8MailboxNames(this) });
    if (!parsed.ok) {
      const e = parsed.error;
      if (e.tag !== null && e.status === 'BAD') {
        // Dovecot: imap-login hides the reason; the imap process names the command.
        const text =
          this.state === 'not-authenticated' ? (PRELOGIN_VISIBLE.has(e.text) ? e.text : PRELOGIN_ERROR) : `Error in IMAP command ${commandLabel(ev.name, ev.args)}: ${e.text}`;
        this.writeTagged(e.tag, { status: 'BAD', text, code: e.code }, started);
      } else this.conn.write(errorLine(e));
      if (e.status === 'BAD') this.countBad();
      return;
    }
    await this.dispatch(parsed.tag, parsed.command, started);
  }

  /**
   * The tagged reply. After login Dovecot's imap process adds the command's timing:
   * `Select completed (0.001 + 0.000 secs).` (running + waiting for locks, in ms rounded up).
   */
  private writeTagged(tag: string, result: CommandResult, started: number | null, syncTiming = false): void {
    let text = result.text;
    if (started !== null && this.state !== 'not-authenticated' && this.user) {
      const run = Math.max(1, Math.ceil(performance.now() - started)) / 1000;
      const base = text.endsWith('.') ? text.slice(0, -1) : text;
      text = `${base} (${run.toFixed(3)} + 0.000${syncTiming ? ' + 0.000' : ''} secs).`;
    }
    this.conn.write(taggedLine(tag, result.status, text, result.code));
  }

  private countBad(): void {
    // Dovecot: imap_max_bad_commands invalid commands in a row end the connection.
    if (++this.badCommands >= this.settings.imap_max_bad_commands && this.settings.imap_max_bad_commands > 0) {
      this.conn.close('* BYE Too many invalid IMAP commands.\r\n');
    }
  }

  private async dispatch(tag: string, cmd: ImapCommand, started: number): Promise<void> {
    const handler = HANDLERS[cmd.name] as CommandHandler;
    const stateError = this.stateError(handler, cmd);
    if (stateError) {
      this.writeTagged(tag, { status: 'BAD', text: stateError }, started);
      this.countBad();
      return;
    }
    // Replies of imap-login (the login itself) carry no timing in Dovecot.
    const timed = this.state !== 'not-authenticated';
    let result: CommandResult | null;
    for (const h of this.hooks) h.commandStarting?.(cmd);
    try {
      result = await handler.run(this, tag, cmd);
    } catch (err) {
      result = this.errorResult(err, cmd);
    }
    if (result === null) return;
    if (result.status === 'BAD') {
      this.countBad();
      // Syntax-level refusals name the command, as Dovecot's client_send_command_error() does.
      if (result.syntax) result = { ...result, text: `Error in IMAP command ${cmdLabel(cmd)}: ${result.text}` };
    } else this.badCommands = 0;
    try {
      await this.flushUpdates(handler.mayAnnounceExpunge ? handler.mayAnnounceExpunge(cmd) : true, cmd);
      await this.afterUpdates();
    } catch (err) {
      // The command's own work stands; what changed meanwhile is announced after a later command
      // (a storage engine that went away for a while must not end the session).
      if (!(err instanceof StorageError)) throw err;
      (this.user?.log ?? this.log).error(`Announcing changes after ${cmd.name} failed: ${err.message}`);
    }
    for (const h of this.hooks) if (h.tagged) result = h.tagged(result, cmd);
    this.writeTagged(tag, result, timed ? started : null, cmd.name === 'CLOSE');
    observeImapCommand(cmd.name, result.status, (performance.now() - started) / 1000);
    result.afterReply?.();
    if (result.byeAfterReply) this.conn.close(`* BYE ${result.byeAfterReply}\r\n`);
  }

  private stateError(handler: CommandHandler, cmd: ImapCommand): string | null {
    if (handler.states.includes(this.state)) return null;
    // Dovecot's texts (imap-login and imap processes).
    if (this.state === 'not-authenticated') return PRELOGIN_ERROR;
    if (handler.states.includes('selected')) return 'No mailbox selected.';
    if (cmd.name === 'LOGIN' || cmd.name === 'AUTHENTICATE' || cmd.name === 'STARTTLS') return `Error in IMAP command ${cmd.name}: Unknown command.`;
    return 'Command not permitted in this state.';
  }

  /** Renders a thrown error as the tagged reply (StorageError codes are IMAP response codes). */
  errorResult(err: unknown, cmd?: ImapCommand): CommandResult {
    if (err instanceof StorageError) {
      const target = cmd && (cmd.name === 'APPEND' || cmd.name === 'COPY' || cmd.name === 'MOVE' || cmd.name === 'REPLACE');
      switch (err.code) {
        case 'NONEXISTENT':
          return { status: 'NO', code: target ? 'TRYCREATE' : 'NONEXISTENT', text: err.message };
        case 'SERVERBUG':
          break;
        case 'UNAVAILABLE':
          // RFC 5530 UNAVAILABLE: a temporary failure; the details are for the log, as Dovecot's.
          (this.user?.log ?? this.log).error(`${cmd?.name ?? 'command'} failed: ${err.message}`);
          return { status: 'NO', code: 'UNAVAILABLE', text: `${INTERNAL_ERROR} [${timestamp()}]` };
        case 'PARAMETERS':
          return { status: 'NO', text: err.message };
        default:
          return { status: 'NO', code: err.code, text: err.message };
      }
    }
    (this.user?.log ?? this.log).error(`${cmd?.name ?? 'command'} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return { status: 'NO', code: 'SERVERBUG', text: `${INTERNAL_ERROR} [${timestamp()}]` };
  }

  /**
   * Writes the untagged updates for the selected mailbox (EXISTS, RECENT, FETCH FLAGS, and
   * EXPUNGE when `allowExpunge`).
   */
  async flushUpdates(allowExpunge: boolean, cmd?: ImapCommand): Promise<void> {
    if (!this.selected || this.state !== 'selected') return;
    // Other processes' changes (`roost deliver`, the CLI, another server) reach the view here:
    // the notices it sends mark the view dirty before the view looks below.
    await this.store.refreshChanges();
    if (!this.selected || this.state !== 'selected') return;
    if (this.checkSelectedExists) {
      this.checkSelectedExists = false;
      if (!(await this.store.getMailboxById(this.selected.id))) {
        // Dovecot's answer when another session deletes the selected mailbox.
        this.unselect();
        this.conn.close('* BYE Selected mailbox was deleted, have to disconnect.\r\n');
        return;
      }
    }
    const uidInFetch = cmd !== undefined && 'uid' in cmd && cmd.uid === true;
    const view = this.selected;
    for (const line of await view.sync({ allowExpunge, condstore: this.isEnabled('CONDSTORE'), uidInFetch, qresync: this.isEnabled('QRESYNC') })) this.conn.write(line);
    for (const h of this.hooks) {
      const pending = h.updatesFlushed?.(view);
      if (pending) await pending;
    }
  }

  async afterUpdates(): Promise<void> {
    for (const h of [...this.hooks]) if (h.afterUpdates) await h.afterUpdates();
  }

  // ---- login ----

  /**
   * After a successful LOGIN/AUTHENTICATE: creates the mail user (plugins' created hooks run
   * here), checks mail_max_userip_connections, logs the login. Returns the tagged result, or null
   * when the connection was closed.
   */
  async completeLogin(auth: Extract<AuthResult, { ok: true }>, method: string): Promise<CommandResult | null> {
    // `roost restore` is replacing this user's store: no session may open it until it is done.
    // Entered until the session counts as logged in, so a restore's kick sees it.
    const leave = this.shared.ctx.userLocks?.enter(auth.user);
    if (leave === null) {
      this.log.info(`Login refused: user=<${auth.user}>: the mail store is being restored`);
      return { status: 'NO', code: 'UNAVAILABLE', text: 'Mail store is being restored, try again later.' };
    }
    try {
      return await this.openUserSession(auth, method);
    } finally {
      leave?.();
    }
  }

  private async openUserSession(auth: Extract<AuthResult, { ok: true }>, method: string): Promise<CommandResult | null> {
    const max = this.settings.mail_max_userip_connections;
    const key = `${auth.user}\0${this.conn.remoteIp}`;
    const current = this.shared.userIpCounts.get(key) ?? 0;
    if (max > 0 && current >= max) {
      this.log.info(`Maximum number of connections from user+IP exceeded (mail_max_userip_connections=${max}): user=<${auth.user}>, rip=${this.conn.remoteIp}`);
      this.conn.close(`* BYE Maximum number of connections from user+IP exceeded (mail_max_userip_connections=${max})\r\n`);
      return null;
    }
    this.shared.userIpCounts.set(key, current + 1);
    this.userIpKey = key;
    let user: MailUser<UserStore>;
    try {
      user = await this.shared.ctx.mailUsers.createUser({
        username: auth.user,
        service: 'imap',
        userdbFields: auth.userdbFields,
        localIp: this.conn.localIp,
        remoteIp: this.conn.remoteIp,
        localPort: this.conn.localPort,
        remotePort: this.conn.remotePort,
        authUser: auth.masterUser,
        sessionId: this.sessionId,
      });
    } catch (err) {
      if (!(err instanceof MailUserInitError)) throw err;
      new Logger(`imap(${auth.user})<${process.pid}><${this.sessionId}>: `).error(err.message);
      this.initFailed = true;
      this.state = 'logout';
      return { status: 'OK', text: 'Logged in, but initialization failed.' };
    }
    if (this.conn.isClosed) {
      await this.shared.ctx.mailUsers.destroyUser(user);
      return null;
    }
    this.user = user;
    const store = await user.openStore();
    // The connection went away while an asynchronous store was opened: end() took the user.
    if (this.ended) return null;
    this.storeRef = store;
    this.unsubscribeChanges = this.storeRef.onChange((n) => this.onStoreChange(n));
    this.state = 'authenticated';
    this.shared.onLoggedIn?.(this);
    this.conn.setTimeout(this.settings.imap_idle_timeout);
    const secured = this.conn.secured ? 'TLS, ' : this.secured ? 'secured, ' : '';
    this.log.info(
      `Login: user=<${auth.user}>, method=${method}, rip=${this.conn.remoteIp}, lip=${this.conn.localIp}, mpid=${process.pid}, ${secured}session=<${user.sessionId ?? ''}>`,
    );
    return { status: 'OK', code: `CAPABILITY ${this.capabilities().join(' ')}`, text: 'Logged in' };
  }

  /** Notices kept for a view being opened (collectNotices). */
  private readonly collectors = new Set<ChangeNotice[]>();

  collectNotices(): { notices: ChangeNotice[]; stop: () => void } {
    const notices: ChangeNotice[] = [];
    this.collectors.add(notices);
    return { notices, stop: () => this.collectors.delete(notices) };
  }

  private onStoreChange(n: ChangeNotice): void {
    for (const c of this.collectors) c.push(n);
    for (const h of this.hooks) h.changed?.(n);
    this.noteSelectedChange(n);
    this.wakeIdle?.();
  }

  private noteSelectedChange(n: ChangeNotice): void {
    if (!this.selected) return;
    if (n.mailboxId === this.selected.id) this.selected.dirty = true;
    // A mailbox-list change may be the deletion of the selected mailbox.
    else if (n.mailboxId === null) this.checkSelectedExists = true;
    // Changed by another process: anything, the selected mailbox included, may have changed.
    if (n.kind === 'elsewhere') this.selected.dirty = true;
  }

  private checkSelectedExists = false;

  /** Resolves on the next change notice (IDLE). */
  waitForChange(): { promise: Promise<void>; cancel: () => void } {
    let cancel = () => {};
    const promise = new Promise<void>((resolve) => {
      const wake = () => {
        if (this.wakeIdle === wake) this.wakeIdle = null;
        resolve();
      };
      this.wakeIdle = wake;
      cancel = wake;
    });
    return { promise, cancel };
  }

  /** Unsolicited work in progress between commands (see runBetweenCommands). */
  private betweenCommands: Promise<void> | null = null;

  async runBetweenCommands(fn: () => Promise<void>): Promise<void> {
    while (this.betweenCommands) await this.betweenCommands;
    const run = fn();
    const settled = run.then(
      () => {},
      () => {},
    );
    this.betweenCommands = settled;
    try {
      await run;
    } finally {
      if (this.betweenCommands === settled) this.betweenCommands = null;
    }
  }

  // ---- mailbox helpers ----

  /** The name for messages: as the client wrote it (mUTF-7). */
  wireName(name: string): string {
    return encodeMailboxName(name);
  }

  // ---- end ----

  /**
   * LOGOUT and disconnects: Dovecot's `Logged out in=N out=N ...` line, mail user destroyed.
   * `shutdown` is a kick or a server stop (Dovecot: `Disconnected: Server shutting down.`). Runs
   * once: after LOGOUT the socket's close calls it again, which must not log imap-login's
   * `Disconnected (no auth attempts ...)` for a session that did log in.
   */
  async end(reason: 'logout' | 'disconnect' | 'shutdown'): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.releaseUserIp();
    this.unsubscribeChanges?.();
    this.unsubscribeChanges = null;
    this.wakeIdle?.();
    for (const h of this.hooks) h.ended?.();
    this.hooks.clear();
    const user = this.user;
    const summary = user ? this.logoutSummary() : '';
    this.user = null;
    this.selected = null;
    this.state = 'logout';
    if (!user) {
      if (reason !== 'logout' && !this.initFailed) this.logPreLoginDisconnect();
      return;
    }
    const why = reason === 'logout' ? 'Logged out' : reason === 'shutdown' ? 'Server shutting down.' : 'Connection closed';
    user.log.info(`Disconnected: ${why} ${summary}`);
    await this.shared.ctx.mailUsers.destroyUser(user);
    this.storeRef = null;
  }

  private releaseUserIp(): void {
    if (!this.userIpKey) return;
    const n = (this.shared.userIpCounts.get(this.userIpKey) ?? 1) - 1;
    if (n <= 0) this.shared.userIpCounts.delete(this.userIpKey);
    else this.shared.userIpCounts.set(this.userIpKey, n);
    this.userIpKey = null;
  }

  /**
   * RFC 8437 UNAUTHENTICATE: back to the not-authenticated state on the same connection. The
   * selected mailbox is closed without expunging, the mail user ends (its deinit hooks run, the
   * logout line is logged) and enabled extensions are forgotten; TLS and COMPRESS stay.
   */
  async unauthenticate(): Promise<void> {
    this.unselect();
    this.releaseUserIp();
    this.unsubscribeChanges?.();
    this.unsubscribeChanges = null;
    this.wakeIdle?.();
    const user = this.user;
    const summary = user ? this.logoutSummary() : '';
    this.user = null;
    this.state = 'not-authenticated';
    this.extensions.clear();
    this.savedSearch = null;
    this.badCommands = 0;
    this.conn.setTimeout(this.settings.imap_login_timeout);
    if (!user) return;
    user.log.info(`Disconnected: Unauthenticated ${summary}`);
    await this.shared.ctx.mailUsers.destroyUser(user);
    this.storeRef = null;
  }

  /** Counts a failed LOGIN/AUTHENTICATE for the disconnect log line. */
  noteAuthFailure(user: string, method: string): void {
    this.authAttempts++;
    this.lastAuth = { user, method };
  }

  /** imap-login's `Disconnected (auth failed, 1 attempts in 2 secs): user=<x>, ...` line. */
  private logPreLoginDisconnect(): void {
    const secs = Math.round((Date.now() - this.connectedAt) / 1000);
    const what = this.authAttempts > 0 ? `auth failed, ${this.authAttempts} attempts in ${secs} secs` : `no auth attempts in ${secs} secs`;
    const who = this.lastAuth ? `user=<${this.lastAuth.user}>, method=${this.lastAuth.method}, ` : 'user=<>, ';
    const secured = this.conn.secured ? 'TLS, ' : this.secured ? 'secured, ' : '';
    const reason = this.disconnectReason ? `: ${this.disconnectReason}` : '';
    this.log.info(`Disconnected${reason} (${what}): ${who}rip=${this.conn.remoteIp}, lip=${this.conn.localIp}, ${secured}session=<${this.sessionId}>`);
  }

  /** imap_logout_format with Dovecot's variables (%i, %o, %{deleted}, ...). */
  logoutSummary(): string {
    const vars: Record<string, string> = {
      input: String(this.conn.bytesIn),
      output: String(this.conn.bytesOut),
      deleted: String(this.stats.deleted),
      expunged: String(this.stats.expunged),
      trashed: String(this.stats.trashed),
      fetch_hdr_count: String(this.stats.fetchHdrCount),
      fetch_hdr_bytes: String(this.stats.fetchHdrBytes),
      fetch_body_count: String(this.stats.fetchBodyCount),
      fetch_body_bytes: String(this.stats.fetchBodyBytes),
      session: this.user?.sessionId ?? '',
    };
    return this.settings.imap_logout_format
      .replace(/%\{([a-z_]+)\}/g, (whole, name: string) => vars[name] ?? whole)
      .replace(/%([io])/g, (_w, c: string) => (c === 'i' ? vars.input! : vars.output!));
  }
}

/** `FETCH`, `UID FETCH` (as Dovecot names a command in errors). */
function cmdLabel(cmd: ImapCommand): string {
  return 'uid' in cmd && cmd.uid ? `UID ${cmd.name}` : cmd.name;
}

function commandLabel(name: string, args: readonly ImapArg[]): string {
  const first = args[0];
  return name === 'UID' && first?.type === 'atom' ? `UID ${first.value.toUpperCase()}` : name;
}

function timestamp(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
