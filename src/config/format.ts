// Prints settings in config syntax, like `doveconf -n` (only what differs from the defaults) or
// `doveconf -a` (everything). The output parses back to the same settings.
import type { ConfigNode } from './parser.js';
import { quoteIfNeeded } from './parser.js';
import { derivedPaths, formatScalar } from './settings-builder.js';
import { defaultSettings } from './load.js';
import {
  SETTING_KINDS, defaultInetListener, defaultMailbox, defaultNamespace, defaultPassdb, defaultService,
  defaultServices, defaultUnixListener, defaultUserdb, type ScalarSettings, type Settings,
} from './settings.js';

export interface FormatOptions {
  /** Print every setting, not only those that differ from the defaults. */
  all?: boolean;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const label = (name: string) => (name === '' ? '' : /[\s{}#"']/.test(name) ? ` "${name.replace(/[\\"]/g, '\\$&')}"` : ` ${name}`);

export function formatConfig(settings: Settings, options: FormatOptions = {}): string {
  const all = options.all ?? false;
  const defaults = defaultSettings();
  // Values derived from data_dir count as defaults when they follow it.
  Object.assign(defaults, derivedPaths(settings.data_dir), { hostname: defaults.hostname });
  const out: string[] = [];
  const line = (depth: number, text: string) => out.push('  '.repeat(depth) + text);
  const setting = (depth: number, key: string, value: string) => line(depth, value === '' ? `${key} =` : `${key} = ${value}`);

  for (const key of (Object.keys(SETTING_KINDS) as (keyof ScalarSettings)[]).sort()) {
    if (!all && same(settings[key], defaults[key])) continue;
    const kind = SETTING_KINDS[key];
    const text = formatScalar(key, settings[key]);
    if (kind.type === 'path') setting(0, key, text === '' ? '' : `<${text}`);
    else if (kind.type === 'string') setting(0, key, quoteIfNeeded(text));
    else setting(0, key, text);
  }

  if (all || !same(settings.namespace, defaults.namespace)) {
    for (const ns of settings.namespace) {
      line(0, `namespace${label(ns.name)} {`);
      const d = defaultNamespace(ns.name);
      if (all || ns.type !== d.type) setting(1, 'type', ns.type);
      if (all || ns.separator !== d.separator) setting(1, 'separator', quoteIfNeeded(ns.separator));
      if (all || ns.prefix !== d.prefix) setting(1, 'prefix', quoteIfNeeded(ns.prefix));
      for (const k of ['inbox', 'hidden', 'subscriptions'] as const) if (all || ns[k] !== d[k]) setting(1, k, ns[k] ? 'yes' : 'no');
      if (all || ns.list !== d.list) setting(1, 'list', ns.list);
      for (const mb of ns.mailboxes) {
        line(1, `mailbox${label(mb.name)} {`);
        const md = defaultMailbox(mb.name);
        if (all || !same(mb.special_use, md.special_use)) setting(2, 'special_use', mb.special_use.join(' '));
        if (all || mb.auto !== md.auto) setting(2, 'auto', mb.auto);
        line(1, '}');
      }
      line(0, '}');
    }
  }

  for (const type of ['passdb', 'userdb'] as const) {
    if (!all && same(settings[type], defaults[type])) continue;
    for (const db of settings[type]) {
      line(0, `${type}${label(db.name)} {`);
      const d: Record<string, unknown> = type === 'passdb' ? { ...defaultPassdb() } : { ...defaultUserdb() };
      for (const [k, v] of Object.entries(db)) {
        if (k === 'name' || (!all && same(v, d[k]))) continue;
        setting(1, k, typeof v === 'boolean' ? (v ? 'yes' : 'no') : quoteIfNeeded(String(v)));
      }
      line(0, '}');
    }
  }

  const pluginKeys = Object.keys(settings.plugin).sort();
  if (pluginKeys.length) {
    line(0, 'plugin {');
    for (const k of pluginKeys) setting(1, k, quoteIfNeeded(settings.plugin[k]!));
    line(0, '}');
  }

  const builtinServices = defaultServices();
  for (const name of Object.keys(settings.service).sort()) {
    const svc = settings.service[name]!;
    const d = builtinServices[name] ?? defaultService(name);
    if (!all && same(svc, d) && builtinServices[name]) continue;
    const body: string[] = [];
    const sub = (depth: number, text: string) => body.push('  '.repeat(depth) + text);
    if (all || svc.client_limit !== d.client_limit) sub(1, `client_limit = ${svc.client_limit}`);
    if (svc.executable !== d.executable) sub(1, `executable = ${svc.executable}`);
    for (const l of svc.inet_listener) {
      const ld = d.inet_listener.find((x) => x.name === l.name && l.name !== '') ?? defaultInetListener(l.name);
      if (!all && same(l, ld) && d.inet_listener.includes(ld)) continue;
      sub(1, `inet_listener${label(l.name)} {`);
      if (all || l.address !== ld.address) sub(2, `address = ${quoteIfNeeded(l.address)}`.trimEnd());
      if (all || l.port !== ld.port) sub(2, `port = ${l.port}`);
      if (all || l.ssl !== ld.ssl) sub(2, `ssl = ${l.ssl ? 'yes' : 'no'}`);
      if (all || l.haproxy !== ld.haproxy) sub(2, `haproxy = ${l.haproxy ? 'yes' : 'no'}`);
      sub(1, '}');
    }
    for (const l of svc.unix_listener) {
      const ld = d.unix_listener.find((x) => x.path === l.path) ?? defaultUnixListener(l.path);
      if (!all && same(l, ld) && d.unix_listener.includes(ld)) continue;
      sub(1, `unix_listener${label(l.path)} {`);
      if (all || l.mode !== ld.mode) sub(2, `mode = 0${l.mode.toString(8)}`);
      if (all || l.user !== ld.user) sub(2, `user = ${quoteIfNeeded(l.user)}`.trimEnd());
      if (all || l.group !== ld.group) sub(2, `group = ${quoteIfNeeded(l.group)}`.trimEnd());
      sub(1, '}');
    }
    line(0, `service${label(name)} {`);
    out.push(...body);
    line(0, '}');
  }

  for (const f of settings.protocol_filters) {
    line(0, `protocol ${f.protocol} {`);
    formatNodes(f.nodes, 1, out);
    line(0, '}');
  }
  return out.join('\n') + '\n';
}

/** Re-prints raw filter contents; `$setting` references stay references. */
export function formatNodes(nodes: ConfigNode[], depth: number, out: string[]): void {
  for (const n of nodes) {
    const pad = '  '.repeat(depth);
    if (n.kind === 'setting') {
      const value = n.filePath !== undefined ? `<${n.filePath}` : n.mayExpand ? n.value : quoteIfNeeded(n.value);
      out.push(value === '' ? `${pad}${n.key} =` : `${pad}${n.key} = ${value}`);
    } else {
      out.push(`${pad}${n.type}${label(n.name)} {`);
      formatNodes(n.children, depth + 1, out);
      out.push(`${pad}}`);
    }
  }
}
