// Turns the parsed tree into typed, validated Settings: types and ranges per setting, sections
// merged by name as Dovecot does, `$setting` references, `<file` values, warnings for Dovecot
// settings Roost accepts but does not use.
import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { resolve } from 'node:path';
import { ConfigError, ValueError } from './errors.js';
import {
  IGNORED_AUTHDB_SETTINGS, IGNORED_MAILBOX_SETTINGS, IGNORED_NAMESPACE_SETTINGS, IGNORED_SECTIONS,
  IGNORED_SERVICE_SETTINGS, IGNORED_SETTINGS, IGNORED_SETTING_PREFIXES,
} from './ignored-settings.js';
import type { ConfigNode, ConfigSectionNode, ConfigSettingNode } from './parser.js';
import { DEFAULT_MAIL_LOCATION, mailLocationSchemes } from './mail-location.js';
import { recordSource } from './source.js';
import { didYouMean } from './suggest.js';
import {
  SETTING_KINDS, defaultInetListener, defaultMailbox, defaultNamespace, defaultPassdb, defaultService,
  defaultUnixListener, defaultUserdb, type MailboxSettings, type NamespaceSettings,
  type PassdbSettings, type ResultAction, type ScalarSettings, type ServiceSettings, type SettingKind,
  type Settings, type UserdbSettings,
} from './settings.js';
import { formatSize, formatTime, parseBool, parseOctal, parsePort, parseSize, parseTime, parseUint } from './units.js';

/** Services Roost runs; blocks for other Dovecot services are accepted with a warning. */
const ROOST_SERVICES = new Set(['imap-login', 'imap', 'lmtp', 'auth', 'quota-status', 'stats']);
const ROOST_PROTOCOLS = new Set(['imap', 'lmtp']);
const RESULT_ACTIONS: readonly ResultAction[] = ['return-ok', 'return-fail', 'return', 'continue', 'continue-ok', 'continue-fail'];
/** RFC 6154 + RFC 8457 special-use flags. */
const SPECIAL_USE = new Set(['\\All', '\\Archive', '\\Drafts', '\\Flagged', '\\Junk', '\\Sent', '\\Trash', '\\Important']);
const OTHER_STORE_FORMATS = ['sdbox', 'mdbox', 'maildir', 'mbox', 'dbox'];
/** Sections applySection knows, for "did you mean" on a misspelled one. */
const TOP_LEVEL_SECTIONS = ['plugin', 'namespace', 'passdb', 'userdb', 'service', 'protocol', 'local', 'remote'];

interface BuildContext {
  warnings: string[];
  /** Sections replaced on first mention (the built-in default list is dropped then). */
  explicit: Set<'passdb' | 'userdb' | 'namespace'>;
}

const warnAt = (ctx: BuildContext, n: ConfigNode, msg: string) => ctx.warnings.push(`${n.file} line ${n.line}: ${msg}`);
const errorAt = (n: ConfigNode, reason: string, setting?: string): never => {
  throw new ConfigError(n.file, n.line, reason, setting);
};

/** Applies the tree on top of `base` (mutated) and finalizes derived values. */
export function buildSettings(nodes: ConfigNode[], base: Settings, warnings: string[]): Settings {
  const ctx: BuildContext = { warnings, explicit: new Set() };
  applyNodes(nodes, base, ctx, true);
  return finalizeSettings(base, nodes[0]?.file ?? 'config');
}

/** Applies a protocol filter's nodes to a copy of the global settings. */
export function applyFilterNodes(nodes: ConfigNode[], base: Settings, warnings: string[]): Settings {
  const copy = structuredClone(base);
  applyNodes(nodes, copy, { warnings, explicit: new Set() }, false);
  return copy;
}

function applyNodes(nodes: ConfigNode[], target: Settings, ctx: BuildContext, topLevel: boolean): void {
  for (const node of nodes) {
    if (node.kind === 'setting') applyScalar(node, target, ctx);
    else applySection(node, target, ctx, topLevel);
  }
}

function applyScalar(node: ConfigSettingNode, target: Settings, ctx: BuildContext): void {
  const key = node.key;
  if (key in SETTING_KINDS) {
    const k = key as keyof ScalarSettings;
    const kind = SETTING_KINDS[k];
    const raw = settingText(node, kind, target);
    const value = convertValue(node, kind, raw);
    (target as unknown as Record<string, unknown>)[k] = checkScalar(node, k, value, ctx);
    recordSource(target, k, node);
    return;
  }
  if (IGNORED_SETTINGS.has(key) || IGNORED_SETTING_PREFIXES.some((p) => key.startsWith(p))) {
    warnAt(ctx, node, `${key} is a Dovecot setting that Roost does not use (ignored)`);
    return;
  }
  if (key === 'mail_lua_script' || key.startsWith('push_notification_driver') || key.startsWith('quota')) {
    errorAt(node, `Unknown setting: ${key} (it belongs inside plugin { })`, key);
  }
  errorAt(node, `Unknown setting: ${key}${didYouMean(key, [...Object.keys(SETTING_KINDS), ...IGNORED_SETTINGS, ...TOP_LEVEL_SECTIONS])}`, key);
}

/** The value's text after `<file` reading and `$setting` expansion. */
function settingText(node: ConfigSettingNode, kind?: SettingKind, current?: ScalarSettings): string {
  if (node.filePath !== undefined) {
    if (kind?.type === 'path') return node.filePath;
    try {
      return readFileSync(node.filePath, 'utf8').trim();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      return errorAt(node, `${node.key}: Can't read file ${node.filePath}: ${code}`, node.key);
    }
  }
  if (kind?.type === 'path' && node.value !== '') {
    errorAt(node, `${node.key}: Use the form ${node.key} = </path/to/file.pem`, node.key);
  }
  if (!node.mayExpand || !current) return node.value;
  // `$name` words are replaced by that setting's current value; other `$` text stays as written.
  return node.value.replace(/(^|\s)\$([a-z0-9_]+)(?=\s|$)/g, (whole, lead: string, name: string) =>
    name in SETTING_KINDS ? lead + formatScalar(name as keyof ScalarSettings, current[name as keyof ScalarSettings]) : whole,
  );
}

function convertValue(node: ConfigSettingNode, kind: SettingKind, raw: string): unknown {
  try {
    switch (kind.type) {
      case 'string':
      case 'path':
        return raw;
      case 'bool':
        return parseBool(raw);
      case 'size':
        return parseSize(raw);
      case 'time':
        return parseTime(raw);
      case 'uint':
        return parseUint(raw);
      case 'list': {
        const items = raw.split(kind.separator === 'comma' ? /[\s,]+/ : /\s+/).filter((s) => s !== '');
        return [...new Set(items)];
      }
      case 'enum':
        if (!kind.values.includes(raw)) throw new ValueError(`Invalid value: ${raw} (use ${kind.values.join(', ')})`);
        return raw;
    }
  } catch (e) {
    if (e instanceof ValueError) errorAt(node, `${node.key}: ${e.message}`, node.key);
    throw e;
  }
}

/** Checks that need the setting's meaning, not only its type. */
function checkScalar(node: ConfigSettingNode, key: keyof ScalarSettings, value: unknown, ctx: BuildContext): unknown {
  if (key === 'protocols') {
    const list = (value as string[]).filter((p) => p !== 'none');
    for (const p of list.filter((p) => !ROOST_PROTOCOLS.has(p))) {
      warnAt(ctx, node, `protocols: ${p} is not served by Roost (ignored)`);
    }
    return list.filter((p) => ROOST_PROTOCOLS.has(p));
  }
  if (key === 'mail_location') {
    // The schemes are the storage backends' (config/mail-location.ts); a process that never
    // loaded the storage layer checks the syntax only.
    const v = value as string;
    if (v === '') return DEFAULT_MAIL_LOCATION;
    const m = /^([a-z][a-z0-9]*):(.*)$/s.exec(v);
    const schemes = mailLocationSchemes();
    const served = m ? schemes.find((s) => s.scheme === m[1]) : undefined;
    if (served) {
      const why = served.check(m![2]!);
      if (why === undefined) return v;
      errorAt(node, `mail_location: ${v}: ${why}`, key);
    }
    if (m && OTHER_STORE_FORMATS.includes(m[1]!)) {
      warnAt(ctx, node, `mail_location = ${v}: Roost keeps its own store (${DEFAULT_MAIL_LOCATION}) under the home`);
      return DEFAULT_MAIL_LOCATION;
    }
    if (m && schemes.length === 0) return v;
    const use = schemes.length > 0 ? schemes.map((s) => s.example).join(' or ') : DEFAULT_MAIL_LOCATION;
    errorAt(node, `mail_location: Unsupported mail storage: ${v} (use ${use})`, key);
  }
  if (key === 'recipient_delimiter' || key === 'auth_master_user_separator') {
    return value;
  }
  if (key === 'lua_read_paths' || key === 'lua_write_paths') {
    const list = (value as string[]).filter((p) => p !== 'none');
    const relative = list.find((p) => !p.startsWith('/'));
    if (relative !== undefined) errorAt(node, `${key}: ${relative} is not an absolute path`, key);
    return list;
  }
  if ((key === 'imap_max_line_length' || key === 'mail_max_message_size') && (value as number) < 1024) {
    errorAt(node, `${key}: must be at least 1k`, key);
  }
  return value;
}

/** Prints a scalar setting's value in config syntax (also used for `$setting` expansion). */
export function formatScalar<K extends keyof ScalarSettings>(key: K, value: ScalarSettings[K]): string {
  const kind = SETTING_KINDS[key];
  switch (kind.type) {
    case 'bool':
      return value ? 'yes' : 'no';
    case 'size':
      return formatSize(value as number);
    case 'time':
      return formatTime(value as number);
    case 'list':
      return (value as string[]).join(kind.separator === 'comma' ? ', ' : ' ');
    default:
      return String(value);
  }
}

function applySection(node: ConfigSectionNode, target: Settings, ctx: BuildContext, topLevel: boolean): void {
  switch (node.type) {
    case 'plugin':
      for (const child of node.children) {
        if (child.kind === 'section') errorAt(child, `Unexpected section ${child.type} inside plugin { }`);
        const c = child as ConfigSettingNode;
        target.plugin[c.key] = settingText(c);
        recordSource(target.plugin, c.key, c);
      }
      return;
    case 'namespace':
      return applyNamespace(node, target, ctx);
    case 'passdb':
    case 'userdb':
      return applyAuthDb(node, target, ctx);
    case 'service':
      if (!topLevel) errorAt(node, 'service { } is not allowed inside a filter');
      return applyService(node, target, ctx);
    case 'protocol':
      if (!topLevel) errorAt(node, 'protocol { } cannot be nested in another filter');
      if (!/^!?[a-z0-9-]+$/i.test(node.name)) errorAt(node, `protocol { } needs a protocol name, e.g. protocol imap {`);
      // Validate now so errors and warnings surface at load time, not at first use.
      applyFilterNodes(node.children, target, ctx.warnings);
      target.protocol_filters.push({ protocol: node.name, nodes: node.children });
      return;
    case 'local':
    case 'remote':
      warnAt(ctx, node, `${node.type} ${node.name} { } filters are not supported by Roost (block ignored)`);
      return;
    default:
      if (IGNORED_SECTIONS.has(node.type)) {
        if (node.children.length) warnAt(ctx, node, `${node.type} { } is a Dovecot section that Roost does not use (ignored)`);
        return;
      }
      errorAt(node, `Unknown section: ${node.type}${didYouMean(node.type, [...TOP_LEVEL_SECTIONS, ...IGNORED_SECTIONS])}`, node.type);
  }
}

/** Reads the settings of a section into `fields`, by the converters given per key. */
function applyFields<T extends object>(
  node: ConfigSectionNode,
  obj: T,
  converters: { [K in keyof T]?: (raw: string, n: ConfigSettingNode) => T[K] },
  ignored: ReadonlySet<string>,
  ctx: BuildContext,
  sections: Record<string, (child: ConfigSectionNode) => void> = {},
): void {
  for (const child of node.children) {
    if (child.kind === 'section') {
      const handler = sections[child.type];
      if (!handler) errorAt(child, `Unknown section ${child.type} inside ${node.type} { }${didYouMean(child.type, Object.keys(sections))}`, child.type);
      handler!(child);
      continue;
    }
    const conv = (converters as Record<string, ((raw: string, n: ConfigSettingNode) => unknown) | undefined>)[child.key];
    if (conv) {
      const raw = settingText(child);
      try {
        (obj as Record<string, unknown>)[child.key] = conv(raw, child);
        recordSource(obj, child.key, child);
      } catch (e) {
        if (e instanceof ValueError) errorAt(child, `${child.key}: ${e.message}`, child.key);
        throw e;
      }
    } else if (ignored.has(child.key)) {
      warnAt(ctx, child, `${node.type} ${child.key} is a Dovecot setting that Roost does not use (ignored)`);
    } else {
      errorAt(child, `Unknown setting: ${child.key}${didYouMean(child.key, [...Object.keys(converters), ...ignored])}`, child.key);
    }
  }
}

const asString = (raw: string) => raw;
const oneOf = <T extends string>(values: readonly T[]) => (raw: string): T => {
  if (!(values as readonly string[]).includes(raw)) throw new ValueError(`Invalid value: ${raw} (use ${values.join(', ')})`);
  return raw as T;
};

function applyNamespace(node: ConfigSectionNode, target: Settings, ctx: BuildContext): void {
  if (!ctx.explicit.has('namespace')) {
    ctx.explicit.add('namespace');
    target.namespace = [];
  }
  const name = node.name;
  let ns = name ? target.namespace.find((n) => n.name === name) : undefined;
  if (!ns) {
    ns = defaultNamespace(name);
    target.namespace.push(ns);
  }
  const namespace = ns;
  applyFields<NamespaceSettings>(
    node,
    namespace,
    {
      type: oneOf(['private', 'shared', 'public'] as const),
      separator: (raw) => {
        if (raw.length > 1) throw new ValueError(`Invalid separator: ${raw} (one character)`);
        return raw === '' ? '/' : raw;
      },
      prefix: asString,
      inbox: parseBool,
      hidden: parseBool,
      list: oneOf(['yes', 'no', 'children'] as const),
      subscriptions: parseBool,
    },
    IGNORED_NAMESPACE_SETTINGS,
    ctx,
    { mailbox: (child) => applyMailbox(child, namespace, ctx) },
  );
}

function applyMailbox(node: ConfigSectionNode, ns: NamespaceSettings, ctx: BuildContext): void {
  if (!node.name) errorAt(node, 'mailbox { } needs a mailbox name, e.g. mailbox Sent {');
  let mb = ns.mailboxes.find((m) => m.name === node.name);
  if (!mb) {
    mb = defaultMailbox(node.name);
    ns.mailboxes.push(mb);
  }
  applyFields<MailboxSettings>(
    node,
    mb,
    {
      special_use: (raw) => {
        const flags = raw.split(/\s+/).filter((f) => f !== '');
        for (const f of flags) {
          if (![...SPECIAL_USE].some((s) => s.toLowerCase() === f.toLowerCase())) {
            throw new ValueError(`Invalid special_use flag: ${f} (use ${[...SPECIAL_USE].join(' ')})`);
          }
        }
        return flags;
      },
      auto: oneOf(['no', 'create', 'subscribe'] as const),
    },
    IGNORED_MAILBOX_SETTINGS,
    ctx,
  );
}

function applyAuthDb(node: ConfigSectionNode, target: Settings, ctx: BuildContext): void {
  const type = node.type as 'passdb' | 'userdb';
  if (!ctx.explicit.has(type)) {
    ctx.explicit.add(type);
    target[type] = [];
  }
  const list: (PassdbSettings | UserdbSettings)[] = target[type];
  // Named blocks merge (Dovecot 2.3 `passdb name { }`); unnamed ones each add a database.
  let db = node.name ? list.find((d) => d.name === node.name) : undefined;
  const isNew = !db;
  if (!db) {
    db = type === 'passdb' ? { ...defaultPassdb(), name: node.name } : { ...defaultUserdb(), name: node.name };
  }
  const common = {
    driver: asString,
    args: asString,
    name: asString,
    result_success: oneOf(RESULT_ACTIONS),
    result_failure: oneOf(RESULT_ACTIONS),
    result_internalfail: oneOf(RESULT_ACTIONS),
    default_fields: asString,
    override_fields: asString,
  };
  if (type === 'passdb') {
    applyFields<PassdbSettings>(node, db as PassdbSettings, {
      ...common,
      skip: oneOf(['never', 'authenticated', 'unauthenticated'] as const),
      master: parseBool,
      pass: parseBool,
      deny: parseBool,
    }, IGNORED_AUTHDB_SETTINGS, ctx);
  } else {
    applyFields<UserdbSettings>(node, db as UserdbSettings, {
      ...common,
      skip: oneOf(['never', 'found', 'notfound'] as const),
    }, IGNORED_AUTHDB_SETTINGS, ctx);
  }
  if (!db.driver) errorAt(node, `${type} { } is missing driver (e.g. driver = roost)`, 'driver');
  if (isNew) list.push(db);
}

function applyService(node: ConfigSectionNode, target: Settings, ctx: BuildContext): void {
  const name = node.name;
  if (!name) errorAt(node, 'service { } needs a service name, e.g. service imap-login {');
  if (!ROOST_SERVICES.has(name) && node.children.length) {
    warnAt(ctx, node, `service ${name} is a Dovecot service that Roost does not run (ignored)`);
  }
  const service: ServiceSettings = (target.service[name] ??= defaultService(name));
  applyFields<ServiceSettings>(
    node,
    service,
    { client_limit: parseUint, ...(name === 'quota-status' ? { executable: asString } : {}) },
    IGNORED_SERVICE_SETTINGS,
    ctx,
    {
      inet_listener: (child) => {
        let l = service.inet_listener.find((x) => x.name === child.name && child.name !== '');
        if (!l) {
          l = defaultInetListener(child.name);
          service.inet_listener.push(l);
        }
        applyFields(child, l, { address: asString, port: parsePort, ssl: parseBool, haproxy: parseBool }, new Set(['reuse_port', 'type']), ctx);
      },
      unix_listener: (child) => {
        if (!child.name) errorAt(child, 'unix_listener { } needs a path, e.g. unix_listener lmtp {');
        let l = service.unix_listener.find((x) => x.path === child.name);
        if (!l) {
          l = defaultUnixListener(child.name);
          service.unix_listener.push(l);
        }
        applyFields(child, l, { mode: parseOctal, user: asString, group: asString }, new Set(['type']), ctx);
      },
      fifo_listener: (child) => warnAt(ctx, child, 'fifo_listener is not used by Roost (ignored)'),
    },
  );
}

/** `<data_dir>`-relative defaults that depend on data_dir. */
export function derivedPaths(dataDir: string): { mail_home: string; base_dir: string; state_dir: string } {
  return { mail_home: `${dataDir}/home/%d/%n`, base_dir: `${dataDir}/run`, state_dir: `${dataDir}/state` };
}

/** Fills derived values and checks cross-setting rules. */
export function finalizeSettings(s: Settings, fileName: string): Settings {
  s.data_dir = resolve(s.data_dir);
  const derived = derivedPaths(s.data_dir);
  if (s.mail_home === '') s.mail_home = derived.mail_home;
  if (s.base_dir === '') s.base_dir = derived.base_dir;
  if (s.state_dir === '') s.state_dir = derived.state_dir;
  if (s.hostname === '') s.hostname = osHostname();
  if (s.namespace.length === 0) s.namespace.push({ ...defaultNamespace('inbox'), inbox: true });
  const inboxes = s.namespace.filter((n) => n.inbox);
  if (inboxes.length !== 1) {
    throw new ConfigError(fileName, 0, inboxes.length === 0
      ? 'namespace configuration error: inbox=yes namespace missing'
      : 'namespace configuration error: There can be only one namespace with inbox=yes');
  }
  const prefixes = new Set<string>();
  for (const ns of s.namespace) {
    if (prefixes.has(ns.prefix)) throw new ConfigError(fileName, 0, `namespace configuration error: Duplicate namespace prefix: "${ns.prefix}"`);
    prefixes.add(ns.prefix);
  }
  if (s.passdb.length === 0) s.passdb.push({ ...defaultPassdb(), driver: 'roost' });
  if (s.userdb.length === 0) s.userdb.push({ ...defaultUserdb(), driver: 'roost' });
  return s;
}
