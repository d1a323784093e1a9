// The typed settings: Dovecot's names (so a dovecot.conf reads the same), Roost's defaults.
// Sizes are bytes, times are milliseconds, yes/no are booleans, space-separated lists are arrays.

import { DEFAULT_MAIL_LOCATION } from './mail-location.js';

export type SslMode = 'yes' | 'no' | 'required';
export type MailboxAuto = 'no' | 'create' | 'subscribe';
export type ResultAction = 'return-ok' | 'return-fail' | 'return' | 'continue' | 'continue-ok' | 'continue-fail';

export interface InetListenerSettings {
  /** The label (`imap`, `imaps`, `lmtp`); '' for an unnamed listener. */
  name: string;
  /** Empty = the global `listen` addresses. */
  address: string;
  /** 0 disables the listener. */
  port: number;
  /** Implicit TLS on connect (IMAPS). */
  ssl: boolean;
  haproxy: boolean;
}

export interface UnixListenerSettings {
  /** The label: a path, relative ones under base_dir. */
  path: string;
  mode: number;
  user: string;
  group: string;
}

export interface ServiceSettings {
  name: string;
  /** Maximum concurrent connections this service accepts. */
  client_limit: number;
  /** Only read for `service quota-status` (`quota-status -p postfix`); other services ignore it. */
  executable: string;
  inet_listener: InetListenerSettings[];
  unix_listener: UnixListenerSettings[];
}

export interface MailboxSettings {
  name: string;
  /** RFC 6154 special-use flags, e.g. `\Sent`. */
  special_use: string[];
  auto: MailboxAuto;
}

export interface NamespaceSettings {
  name: string;
  type: 'private' | 'shared' | 'public';
  separator: string;
  prefix: string;
  inbox: boolean;
  hidden: boolean;
  list: 'yes' | 'no' | 'children';
  subscriptions: boolean;
  mailboxes: MailboxSettings[];
}

interface AuthDbCommon {
  driver: string;
  args: string;
  /** Optional label (`passdb name { }`), '' if none. */
  name: string;
  result_success: ResultAction;
  result_failure: ResultAction;
  result_internalfail: ResultAction;
  default_fields: string;
  override_fields: string;
}

export interface PassdbSettings extends AuthDbCommon {
  skip: 'never' | 'authenticated' | 'unauthenticated';
  master: boolean;
  pass: boolean;
  deny: boolean;
}

export interface UserdbSettings extends AuthDbCommon {
  skip: 'never' | 'found' | 'notfound';
}

/** The contents of a `protocol <name> { }` block, applied by `settingsFor`. */
export interface ProtocolFilter {
  /** `imap`, `lmtp`, or `!name` for "every protocol but name". */
  protocol: string;
  nodes: import('./parser.js').ConfigNode[];
}

/** Plain (non-section) settings, each with a kind in SETTING_KINDS. */
export interface ScalarSettings {
  protocols: string[];
  listen: string[];
  hostname: string;
  base_dir: string;
  state_dir: string;
  data_dir: string;
  mail_home: string;
  mail_location: string;
  mail_uid: string;
  mail_gid: string;
  mail_plugins: string[];
  mail_debug: boolean;
  mail_log_prefix: string;
  mail_max_keyword_length: number;
  mailbox_idle_check_interval: number;
  /** Roost's own: messages' worth of mailbox listings kept in memory after a user's last session (storage indexRetainMessages). */
  mail_index_retain_messages: number;
  /** Roost's own: how long (ms) a user's store stays open after its last session or delivery ended; 0 = closed at once. */
  mail_store_idle_time: number;
  /** Roost's own: how many such unused stores stay open at once (least recently used closed first). */
  mail_store_idle_max: number;
  lda_mailbox_autocreate: boolean;
  lda_mailbox_autosubscribe: boolean;
  quota_full_tempfail: boolean;
  log_path: string;
  info_log_path: string;
  debug_log_path: string;
  /** With `log_path = syslog`: the facility (Dovecot's setting) and the socket (Roost's own). */
  syslog_facility: string;
  syslog_socket: string;
  log_timestamp: string;
  ssl: SslMode;
  ssl_cert: string;
  ssl_key: string;
  ssl_min_protocol: string;
  disable_plaintext_auth: boolean;
  auth_mechanisms: string[];
  auth_username_format: string;
  auth_username_chars: string;
  auth_master_user_separator: string;
  auth_realms: string[];
  auth_default_realm: string;
  auth_debug: boolean;
  auth_debug_passwords: boolean;
  auth_verbose: boolean;
  auth_verbose_passwords: string;
  auth_failure_delay: number;
  login_greeting: string;
  imap_max_line_length: number;
  imap_capability: string;
  imap_id_send: string;
  imap_id_log: string;
  imap_idle_notify_interval: number;
  imap_metadata: boolean;
  /** RFC 4467 URLAUTH: the host name URLs must carry; '' (default) leaves URLAUTH off, as in Dovecot. */
  imap_urlauth_host: string;
  /** The port URLs must carry (a URL without one means 143). */
  imap_urlauth_port: number;
  /** The user (a submission server's login) that may fetch `submit+<user>` URLs of other users. */
  imap_urlauth_submit_user: string;
  imap_literal_minus: boolean;
  imap_logout_format: string;
  imap_client_workarounds: string[];
  mail_max_userip_connections: number;
  lmtp_save_to_detail_mailbox: boolean;
  lmtp_rcpt_check_quota: boolean;
  lmtp_add_received_header: boolean;
  lmtp_hdr_delivery_address: 'final' | 'none' | 'original';
  /** When mail is fsynced: `optimized` (before success is reported), `always` (inside every commit), `never`. */
  mail_fsync: 'optimized' | 'always' | 'never';
  recipient_delimiter: string;
  postmaster_address: string;
  // Roost's own limits (no Dovecot equivalent).
  mail_max_message_size: number;
  imap_max_bad_commands: number;
  imap_login_timeout: number;
  imap_idle_timeout: number;
  imap_metadata_max_value_size: number;
  imap_metadata_max_entries: number;
  /** RFC 5465: mailbox names one NOTIFY filter group may list before NOTIFICATIONOVERFLOW (Dovecot: 100). */
  imap_notify_max_mailbox_names: number;
  lua_workers: number;
  /** Workers the Lua pool may grow to while calls run long (0 = 4 × lua_workers). */
  lua_max_workers: number;
  lua_call_timeout: number;
  lua_memory_limit: number;
  lua_watchdog_timeout: number;
  /** Longest line of Dovecot's auth client protocol (Dovecot: AUTH_CLIENT_MAX_LINE_LENGTH, fixed). */
  auth_client_max_line_length: number;
  /** Longest attribute line of a quota-status policy request (Dovecot: unbounded). */
  quota_status_max_line_length: number;
  // What Lua's io/os/require may touch (Dovecot has no such limits: default unrestricted).
  lua_read_paths: string[];
  lua_write_paths: string[];
  lua_allow_commands: boolean;
}

export interface Settings extends ScalarSettings {
  /** The free `plugin { }` map (mail_lua_script, push_notification_driver, quota, ...). */
  plugin: Record<string, string>;
  passdb: PassdbSettings[];
  userdb: UserdbSettings[];
  namespace: NamespaceSettings[];
  service: Record<string, ServiceSettings>;
  protocol_filters: ProtocolFilter[];
}

export type SettingKind =
  | { type: 'string' }
  /** Keeps `<path` as a path instead of reading the file (certificates are read by the TLS layer). */
  | { type: 'path' }
  | { type: 'bool' }
  | { type: 'size' }
  | { type: 'time' }
  | { type: 'uint' }
  | { type: 'list'; separator: 'space' | 'comma' }
  | { type: 'enum'; values: readonly string[] };

const str = { type: 'string' } as const;
const bool = { type: 'bool' } as const;
const size = { type: 'size' } as const;
const time = { type: 'time' } as const;
const uint = { type: 'uint' } as const;
const list = { type: 'list', separator: 'space' } as const;

export const SETTING_KINDS: { [K in keyof ScalarSettings]: SettingKind } = {
  protocols: list,
  listen: { type: 'list', separator: 'comma' },
  hostname: str,
  base_dir: str,
  state_dir: str,
  data_dir: str,
  mail_home: str,
  mail_location: str,
  mail_uid: str,
  mail_gid: str,
  mail_plugins: list,
  mail_debug: bool,
  mail_log_prefix: str,
  mail_max_keyword_length: uint,
  mailbox_idle_check_interval: time,
  mail_index_retain_messages: uint,
  mail_store_idle_time: time,
  mail_store_idle_max: uint,
  lda_mailbox_autocreate: bool,
  lda_mailbox_autosubscribe: bool,
  quota_full_tempfail: bool,
  log_path: str,
  info_log_path: str,
  debug_log_path: str,
  syslog_facility: { type: 'enum', values: ['kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7'] },
  syslog_socket: str,
  log_timestamp: str,
  ssl: { type: 'enum', values: ['yes', 'no', 'required'] },
  ssl_cert: { type: 'path' },
  ssl_key: { type: 'path' },
  ssl_min_protocol: { type: 'enum', values: ['SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3', 'ANY', 'LATEST'] },
  disable_plaintext_auth: bool,
  auth_mechanisms: list,
  auth_username_format: str,
  auth_username_chars: str,
  auth_master_user_separator: str,
  auth_realms: list,
  auth_default_realm: str,
  auth_debug: bool,
  auth_debug_passwords: bool,
  auth_verbose: bool,
  auth_verbose_passwords: { type: 'enum', values: ['no', 'yes', 'plain', 'sha1'] },
  auth_failure_delay: time,
  login_greeting: str,
  imap_max_line_length: size,
  imap_capability: str,
  imap_id_send: str,
  imap_id_log: str,
  imap_idle_notify_interval: time,
  imap_metadata: bool,
  imap_urlauth_host: str,
  imap_urlauth_port: uint,
  imap_urlauth_submit_user: str,
  imap_literal_minus: bool,
  imap_logout_format: str,
  imap_client_workarounds: list,
  mail_max_userip_connections: uint,
  lmtp_save_to_detail_mailbox: bool,
  lmtp_rcpt_check_quota: bool,
  lmtp_add_received_header: bool,
  lmtp_hdr_delivery_address: { type: 'enum', values: ['final', 'none', 'original'] },
  mail_fsync: { type: 'enum', values: ['optimized', 'always', 'never'] },
  recipient_delimiter: str,
  postmaster_address: str,
  mail_max_message_size: size,
  imap_max_bad_commands: uint,
  imap_login_timeout: time,
  imap_idle_timeout: time,
  imap_metadata_max_value_size: size,
  imap_metadata_max_entries: uint,
  imap_notify_max_mailbox_names: uint,
  lua_workers: uint,
  lua_max_workers: uint,
  lua_call_timeout: time,
  lua_memory_limit: size,
  lua_watchdog_timeout: time,
  auth_client_max_line_length: size,
  quota_status_max_line_length: size,
  lua_read_paths: list,
  lua_write_paths: list,
  lua_allow_commands: bool,
};

/** Scalar defaults: Dovecot 2.3's where Dovecot has the setting, unless noted. */
export function defaultScalarSettings(): ScalarSettings {
  return {
    // Roost serves these two; Dovecot's default also lists pop3.
    protocols: ['imap', 'lmtp'],
    // Roost listens on loopback until told otherwise (Dovecot: `*, ::`).
    listen: ['127.0.0.1'],
    hostname: '',
    // '' = derived from data_dir (`<data_dir>/run`, `<data_dir>/state`); Dovecot uses /var paths.
    base_dir: '',
    state_dir: '',
    data_dir: './data',
    // '' = `<data_dir>/home/%d/%n`, filled in when the settings are finalized.
    mail_home: '',
    mail_location: DEFAULT_MAIL_LOCATION,
    mail_uid: '',
    mail_gid: '',
    mail_plugins: [],
    mail_debug: false,
    mail_log_prefix: '%s(%u)<%{pid}><%{session}>: ',
    mail_max_keyword_length: 50,
    mailbox_idle_check_interval: 30_000,
    mail_index_retain_messages: 1_000_000,
    mail_store_idle_time: 60_000,
    mail_store_idle_max: 256,
    lda_mailbox_autocreate: false,
    lda_mailbox_autosubscribe: false,
    quota_full_tempfail: false,
    // Dovecot's default is `syslog`; Roost's stays stderr (`log_path = syslog` writes syslog).
    log_path: '/dev/stderr',
    info_log_path: '',
    debug_log_path: '',
    syslog_facility: 'mail',
    syslog_socket: '/dev/log',
    log_timestamp: '%b %d %H:%M:%S ',
    ssl: 'yes',
    ssl_cert: '',
    ssl_key: '',
    ssl_min_protocol: 'TLSv1.2',
    disable_plaintext_auth: true,
    auth_mechanisms: ['plain'],
    auth_username_format: '%Lu',
    auth_username_chars: 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234567890.-_@',
    auth_master_user_separator: '',
    auth_realms: [],
    auth_default_realm: '',
    auth_debug: false,
    auth_debug_passwords: false,
    auth_verbose: false,
    auth_verbose_passwords: 'no',
    auth_failure_delay: 2000,
    login_greeting: 'Dovecot ready.',
    imap_max_line_length: 64 * 1024,
    imap_capability: '',
    imap_id_send: 'name *',
    imap_id_log: '',
    imap_idle_notify_interval: 120_000,
    imap_metadata: false,
    imap_urlauth_host: '',
    imap_urlauth_port: 143,
    imap_urlauth_submit_user: '',
    imap_literal_minus: false,
    imap_logout_format:
      'in=%i out=%o deleted=%{deleted} expunged=%{expunged} trashed=%{trashed} hdr_count=%{fetch_hdr_count} hdr_bytes=%{fetch_hdr_bytes} body_count=%{fetch_body_count} body_bytes=%{fetch_body_bytes}',
    imap_client_workarounds: [],
    mail_max_userip_connections: 10,
    lmtp_save_to_detail_mailbox: false,
    lmtp_rcpt_check_quota: false,
    lmtp_add_received_header: true,
    lmtp_hdr_delivery_address: 'final',
    mail_fsync: 'optimized',
    recipient_delimiter: '+',
    postmaster_address: 'postmaster@%{if;%d;ne;;%d;%{hostname}}',
    mail_max_message_size: 50 * 1024 * 1024,
    imap_max_bad_commands: 20,
    imap_login_timeout: 60_000,
    imap_idle_timeout: 30 * 60_000,
    imap_metadata_max_value_size: 64 * 1024,
    imap_metadata_max_entries: 1000,
    imap_notify_max_mailbox_names: 100,
    lua_workers: 0,
    lua_max_workers: 0,
    lua_call_timeout: 5000,
    lua_memory_limit: 64 * 1024 * 1024,
    lua_watchdog_timeout: 10_000,
    auth_client_max_line_length: 16 * 1024,
    quota_status_max_line_length: 64 * 1024,
    lua_read_paths: ['/'],
    lua_write_paths: ['/'],
    lua_allow_commands: true,
  };
}

export function defaultInetListener(name: string): InetListenerSettings {
  return { name, address: '', port: 0, ssl: false, haproxy: false };
}

export function defaultUnixListener(path: string): UnixListenerSettings {
  return { path, mode: 0o600, user: '', group: '' };
}

export function defaultService(name: string): ServiceSettings {
  return { name, client_limit: 1000, executable: '', inet_listener: [], unix_listener: [] };
}

/** Roost's listeners out of the box: IMAP 1143, IMAPS 1993, LMTP 2424 on `listen` (loopback). */
export function defaultServices(): Record<string, ServiceSettings> {
  const imapLogin = defaultService('imap-login');
  imapLogin.inet_listener.push({ ...defaultInetListener('imap'), port: 1143 });
  imapLogin.inet_listener.push({ ...defaultInetListener('imaps'), port: 1993, ssl: true });
  const lmtp = defaultService('lmtp');
  lmtp.inet_listener.push({ ...defaultInetListener('lmtp'), port: 2424 });
  return { 'imap-login': imapLogin, imap: defaultService('imap'), lmtp };
}

export function defaultNamespace(name: string): NamespaceSettings {
  return {
    name,
    type: 'private',
    // Roost's store uses '/' (Dovecot's default '' means "the mailbox format's").
    separator: '/',
    prefix: '',
    inbox: false,
    hidden: false,
    list: 'yes',
    subscriptions: true,
    mailboxes: [],
  };
}

/** The namespace used when the configuration defines none (Dovecot creates the same implicitly). */
export function implicitInboxNamespace(): NamespaceSettings {
  return { ...defaultNamespace('inbox'), inbox: true };
}

export function defaultMailbox(name: string): MailboxSettings {
  return { name, special_use: [], auto: 'no' };
}

/** Dovecot's defaults shared by passdb and userdb blocks. */
function defaultAuthDb(): AuthDbCommon {
  return {
    driver: '',
    args: '',
    name: '',
    result_success: 'return-ok',
    result_failure: 'continue',
    result_internalfail: 'continue',
    default_fields: '',
    override_fields: '',
  };
}

export function defaultPassdb(): PassdbSettings {
  return { ...defaultAuthDb(), skip: 'never', master: false, pass: false, deny: false };
}

export function defaultUserdb(): UserdbSettings {
  return { ...defaultAuthDb(), skip: 'never' };
}

/** Built-in defaults before derived values (paths under data_dir, hostname) are filled in. */
export function builtinSettings(): Settings {
  return {
    ...defaultScalarSettings(),
    plugin: {},
    // Roost's own account database unless the config names other drivers.
    passdb: [{ ...defaultPassdb(), driver: 'roost' }],
    userdb: [{ ...defaultUserdb(), driver: 'roost' }],
    namespace: [implicitInboxNamespace()],
    service: defaultServices(),
    protocol_filters: [],
  };
}
