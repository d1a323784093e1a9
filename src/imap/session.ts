// One IMAP session (RFC 3501 §3): the state machine not-authenticated → authenticated ⇄ selected →
// logout, the logged-in mail user and its store, the selected mailbox view, and the dispatch of
// each parsed command to its handler with the state check, error rendering and the untagged
// updates that may be announced before the tagged reply (RFC 3501 §7.4.1, §5.2).
import type { AuthResult } from '../auth/index.js';
import type { Settings } from '../config/index.js';
import { Logger } from '../log/logger.js';
import type { ServerContext } from '../mail-user/context.js';
import { MailUserInitError } from '../mail-user/hooks.js';
import type { MailUser } from '../mail-user/mail-user.js';
import { StorageError, type ChangeNotice, type UserStore } from '../storage/types.js';
import { postLoginCapabilities, preLoginCapabilities } from './capabilities.js';
import { HANDLERS } from './commands/index.js';
import type { CommandHandler, CommandResult } from './commands/types.js';
import type { ImapConnection } from './connection.js';
import { encodeMailboxName, errorLine, parseCommand, taggedLine, type ImapCommand, type ReaderEvent } from './protocol/index.js';
import type { SelectedMailbox } from './selected-mailbox.js';
import type tls from 'node:tls';

export type SessionState = 'not-authenticated' | 'authenticated' | 'selected' | 'logout';

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
}

export interface SessionStats {
  deleted: number;
  expunged: number;
  trashed: number;
  fetchHdrCount: number;
  fetchHdrBytes: number;
  fetchBodyCount: number;
  fetchBodyBytes: number;
}

export const INTERNAL_ERROR = 'Internal error occurred. Refer to server log for more information.';

export class ImapSession {
  state: SessionState = 'not-authenticated';
  user: MailUser | null = null;
  private storeRef: UserStore | null = null;
  selected: SelectedMailbox | null = null;
  /** RFC 7162 §3.1: CONDSTORE enabled (ENABLE, SELECT (CONDSTORE), or a CONDSTORE command). */
  condstore = false;
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

  constructor(
    readonly shared: ServerShared,
    readonly conn: ImapConnection,
  ) {}

  get settings(): Settings {
    return this.shared.settings;
  }

  get store(): UserStore {
    if (!this.storeRef) throw new Error('No store before login');
    return this.storeRef;
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
    return postLoginCapabilities({ metadata: this.settings.imap_metadata, literalMinus: this.settings.imap_literal_minus, override: this.settings.imap_capability });
  }

  greet(): void {
    this.conn.write(`* OK [CAPABILITY ${this.capabilities().join(' ')}] ${this.settings.login_greeting}\r\n`);
    this.conn.setTimeout(this.settings.imap_login_timeout);
  }

  // ---- dispatch ----

  async onEvent(ev: ReaderEvent): Promise<void> {
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
    const parsed = parseCommand(ev.tag, ev.name, ev.args);
    if (!parsed.ok) {
      this.conn.write(errorLine(parsed.error));
      if (parsed.error.status === 'BAD') this.countBad();
      return;
    }
    await this.dispatch(parsed.tag, parsed.command);
  }

  private countBad(): void {
    // Dovecot: imap_max_bad_commands invalid commands in a row end the connection.
    if (++this.badCommands >= this.settings.imap_max_bad_commands && this.settings.imap_max_bad_commands > 0) {
      this.conn.close('* BYE Too many invalid IMAP commands.\r\n');
    }
  }

  private async dispatch(tag: string, cmd: ImapCommand): Promise<void> {
    const handler = HANDLERS[cmd.name] as CommandHandler;
    const stateError = this.stateError(handler, cmd);
    if (stateError) {
      this.conn.write(taggedLine(tag, 'BAD', stateError));
      this.countBad();
      return;
    }
    let result: CommandResult | null;
    try {
      result = await handler.run(this, tag, cmd);
    } catch (err) {
      result = this.errorResult(err, cmd);
    }
    if (result === null) return;
    if (result.status === 'BAD') this.countBad();
    else this.badCommands = 0;
    this.flushUpdates(handler.mayAnnounceExpunge ? handler.mayAnnounceExpunge(cmd) : true, cmd);
    this.conn.write(taggedLine(tag, result.status, result.text, result.code));
  }

  private stateError(handler: CommandHandler, cmd: ImapCommand): string | null {
    if (handler.states.includes(this.state)) return null;
    // Dovecot's texts (imap-login and imap processes).
    if (this.state === 'not-authenticated') return 'Please login first';
    if (handler.states.includes('selected')) return 'No mailbox selected.';
    if (cmd.name === 'LOGIN' || cmd.name === 'AUTHENTICATE') return `Error in IMAP command ${cmd.name}: Unknown command.`;
    return 'Command not permitted in this state.';
  }

  /** Renders a thrown error as the tagged reply (StorageError codes are IMAP response codes). */
  errorResult(err: unknown, cmd?: ImapCommand): CommandResult {
    if (err instanceof StorageError) {
      const target = cmd && (cmd.name === 'APPEND' || cmd.name === 'COPY' || cmd.name === 'MOVE');
      switch (err.code) {
        case 'NONEXISTENT':
          return { status: 'NO', code: target ? 'TRYCREATE' : 'NONEXISTENT', text: err.message };
        case 'SERVERBUG':
          break;
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
  flushUpdates(allowExpunge: boolean, cmd?: ImapCommand): void {
    if (!this.selected || this.state !== 'selected') return;
    const uidInFetch = cmd !== undefined && 'uid' in cmd && cmd.uid === true;
    for (const line of this.selected.sync({ allowExpunge, condstore: this.condstore, uidInFetch })) this.conn.write(line);
  }

  // ---- login ----

  /**
   * After a successful LOGIN/AUTHENTICATE: creates the mail user (plugins' created hooks run
   * here), checks mail_max_userip_connections, logs the login. Returns the tagged result, or null
   * when the connection was closed.
   */
  async completeLogin(auth: Extract<AuthResult, { ok: true }>, method: string): Promise<CommandResult | null> {
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
    let user: MailUser;
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
      });
    } catch (err) {
      if (!(err instanceof MailUserInitError)) throw err;
      new Logger(`imap(${auth.user})<${process.pid}>: `).error(err.message);
      this.initFailed = true;
      this.state = 'logout';
      return { status: 'OK', text: 'Logged in, but initialization failed.' };
    }
    if (this.conn.isClosed) {
      await this.shared.ctx.mailUsers.destroyUser(user);
      return null;
    }
    this.user = user;
    this.storeRef = user.getStore();
    this.unsubscribeChanges = this.storeRef.onChange((n) => this.onStoreChange(n));
    this.state = 'authenticated';
    this.conn.setTimeout(this.settings.imap_idle_timeout);
    const secured = this.conn.secured ? 'TLS, ' : this.secured ? 'secured, ' : '';
    this.log.info(
      `Login: user=<${auth.user}>, method=${method}, rip=${this.conn.remoteIp}, lip=${this.conn.localIp}, mpid=${process.pid}, ${secured}session=<${user.sessionId ?? ''}>`,
    );
    return { status: 'OK', code: `CAPABILITY ${this.capabilities().join(' ')}`, text: 'Logged in' };
  }

  private onStoreChange(n: ChangeNotice): void {
    if (this.selected && (n.mailboxId === this.selected.id || n.mailboxId === null)) {
      if (n.mailboxId === this.selected.id) this.selected.dirty = true;
    }
    this.wakeIdle?.();
  }

  /** Resolves on the next change notice (IDLE). */
  waitForChange(): { promise: Promise<void>; cancel: () => void } {
    let cancel = () => {};
    const promise = new Promise<void>((resolve) => {
      this.wakeIdle = () => {
        this.wakeIdle = null;
        resolve();
      };
      cancel = () => {
        this.wakeIdle = null;
        resolve();
      };
    });
    return { promise, cancel };
  }

  // ---- mailbox helpers ----

  /** The name for messages: as the client wrote it (mUTF-7). */
  wireName(name: string): string {
    return encodeMailboxName(name);
  }

  // ---- end ----

  /** LOGOUT and disconnects: Dovecot's `Logged out in=N out=N ...` line, mail user destroyed. */
  async end(reason: 'logout' | 'disconnect'): Promise<void> {
    if (this.userIpKey) {
      const n = (this.shared.userIpCounts.get(this.userIpKey) ?? 1) - 1;
      if (n <= 0) this.shared.userIpCounts.delete(this.userIpKey);
      else this.shared.userIpCounts.set(this.userIpKey, n);
      this.userIpKey = null;
    }
    this.unsubscribeChanges?.();
    this.unsubscribeChanges = null;
    this.wakeIdle?.();
    const user = this.user;
    const summary = user ? this.logoutSummary() : '';
    this.user = null;
    this.selected = null;
    this.state = 'logout';
    if (!user) return;
    user.log.info(reason === 'logout' ? `Logged out ${summary}` : `Disconnected: Connection closed ${summary}`);
    await this.shared.ctx.mailUsers.destroyUser(user);
    this.storeRef = null;
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

function timestamp(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
