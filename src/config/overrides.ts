// `-o path=value` on the command line (dovecot, doveadm and doveconf take it): a setting given
// by doveconf's path syntax, where each section level is its type and, for sections that carry
// a name, that name — `-o service/imap-login/inet_listener/imap/port=21143`,
// `-o plugin/mail_lua_script=/srv/user.lua`, `-o protocol/imap/mail_max_userip_connections=20`.
// The value reads as in a file (quotes, `<file`, `$setting`). Errors name the `-o`, not a line.
import { join } from 'node:path';
import { ConfigError } from './errors.js';
import { parseConfigTree, type ConfigNode, type ConfigSectionNode } from './parser.js';

/** Section types followed by a name in a path (`service/NAME/...`); others (`plugin/KEY`) are not. */
export const NAMED_SECTIONS: ReadonlySet<string> = new Set([
  'service', 'inet_listener', 'unix_listener', 'fifo_listener', 'namespace', 'mailbox', 'passdb', 'userdb', 'protocol',
]);

export interface SettingPath {
  /** Outermost first: `service/imap-login/inet_listener/imap/port` → service imap-login, inet_listener imap. */
  sections: { type: string; name: string }[];
  key: string;
}

/** Splits a setting's path; null when a segment is empty or a named section lacks its name. */
export function parseSettingPath(path: string): SettingPath | null {
  const parts = path.split('/');
  if (parts.some((p) => p === '')) return null;
  const key = parts.pop()!;
  const sections: SettingPath['sections'] = [];
  for (let i = 0; i < parts.length; i++) {
    const type = parts[i]!;
    if (NAMED_SECTIONS.has(type)) {
      if (i + 1 >= parts.length) return null;
      sections.push({ type, name: parts[++i]! });
    } else {
      sections.push({ type, name: '' });
    }
  }
  return { sections, key };
}

/** The config nodes for `-o` values, applied after the file's, in order. */
export function overrideNodes(overrides: readonly string[]): ConfigNode[] {
  return overrides.map(overrideNode);
}

function overrideNode(override: string): ConfigNode {
  const label = `-o ${override}`;
  const fail = (reason: string): never => {
    throw new ConfigError(label, 0, reason);
  };
  const eq = override.indexOf('=');
  if (eq <= 0) fail('-o needs key=value');
  const path = parseSettingPath(override.slice(0, eq).trim());
  if (!path) return fail(`Invalid setting path: ${override.slice(0, eq).trim()}`);
  const key = path.key;
  let value: ConfigNode;
  try {
    // Parsed as a line of a file in the current folder, so `<file` paths are relative to it.
    const tree = parseConfigTree(`${key} = ${override.slice(eq + 1).trim()}\n`, join(process.cwd(), '-o'));
    value = tree.nodes[0]!;
  } catch (e) {
    if (e instanceof ConfigError) return fail(e.reason);
    throw e;
  }
  Object.assign(value, { file: label, line: 0 });
  // Wrap the setting in its sections, innermost first.
  const sections = [...path.sections];
  let node: ConfigNode = value;
  for (const s of sections.reverse()) {
    const section: ConfigSectionNode = { kind: 'section', type: s.type, name: s.name, children: [node], file: label, line: 0 };
    node = section;
  }
  return node;
}
