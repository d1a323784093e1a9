// `roost config SETTING...` (doveconf SETTING): one setting, or one section, by doveconf's path
// (`mail_max_userip_connections`, `plugin/mail_lua_script`,
// `service/imap-login/inet_listener/imap/port`, `service/imap-login`). Looked up in the printed
// configuration (every setting, defaults included), so what it shows is what `roost config -a` shows.
import { formatConfig, formatNodes } from './format.js';
import { NAMED_SECTIONS } from './overrides.js';
import { parseConfigTree, type ConfigNode } from './parser.js';
import type { Settings } from './settings.js';
import { closestName } from './suggest.js';

export type LookupResult =
  | { found: 'setting'; path: string; value: string }
  | { found: 'section'; path: string; text: string }
  | { found: false; suggestion?: string };

export function lookupSetting(settings: Settings, path: string): LookupResult {
  let nodes = parseConfigTree(formatConfig(settings, { all: true }), 'config').nodes;
  const parts = path.split('/');
  for (let i = 0; i < parts.length; i++) {
    const word = parts[i]!;
    const last = i === parts.length - 1;
    const setting = nodes.find((n) => n.kind === 'setting' && n.key === word);
    if (setting && setting.kind === 'setting') {
      if (!last) return { found: false };
      return { found: 'setting', path, value: setting.filePath !== undefined ? `<${setting.filePath}` : setting.value };
    }
    let name = '';
    if (NAMED_SECTIONS.has(word)) {
      if (last) return notFound(word, nodes);
      name = parts[++i]!;
    }
    const section = nodes.find((n) => n.kind === 'section' && n.type === word && n.name === name);
    if (!section || section.kind !== 'section') return notFound(word, nodes);
    if (i === parts.length - 1) {
      const out: string[] = [];
      formatNodes([section], 0, out);
      return { found: 'section', path, text: out.join('\n') + '\n' };
    }
    nodes = section.children;
  }
  return { found: false };
}

function notFound(word: string, nodes: ConfigNode[]): LookupResult {
  const suggestion = closestName(word, nodes.map((n) => (n.kind === 'setting' ? n.key : n.type)));
  return suggestion ? { found: false, suggestion } : { found: false };
}
