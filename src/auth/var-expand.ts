// The subset of Dovecot's %-variables auth needs (auth_username_format, passwd-file paths,
// static userdb args, default/override_fields): %u %n %d %s %l %r %a %b %m %c %w %p %h %%,
// %{long_name}, %{passdb:f}, %{userdb:f}, and the L/U (lower/upper) modifiers, e.g. `%Lu`, `%Ln`.
// Unknown variables expand as Dovecot does: `UNSUPPORTED_VARIABLE_<x>`.

export type VarLookup = (name: string) => string | undefined;

const SHORT: Record<string, string> = {
  u: 'user', n: 'username', d: 'domain', s: 'service', l: 'lip', r: 'rip', a: 'lport', b: 'rport',
  m: 'mech', c: 'secured', w: 'password', p: 'pid', h: 'home',
};

export function varExpand(template: string, lookup: VarLookup): string {
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const ch = template[i]!;
    if (ch !== '%' || i + 1 >= template.length) {
      out += ch;
      continue;
    }
    let j = i + 1;
    let modifier = '';
    while (template[j] === 'L' || template[j] === 'U') modifier = template[j++]!;
    let name: string;
    let display: string;
    if (template[j] === '{') {
      const end = template.indexOf('}', j);
      if (end < 0) {
        out += template.slice(i);
        break;
      }
      display = template.slice(j + 1, end);
      name = display;
      i = end;
    } else {
      display = template[j] ?? '';
      if (display === '%') {
        out += '%';
        i = j;
        continue;
      }
      name = SHORT[display] ?? '';
      i = j;
    }
    const value = name ? lookup(name) : undefined;
    let s = value ?? (name && isKnown(name) ? '' : `UNSUPPORTED_VARIABLE_${display}`);
    if (modifier === 'L') s = s.toLowerCase();
    if (modifier === 'U') s = s.toUpperCase();
    out += s;
  }
  return out;
}

const KNOWN = new Set([...Object.values(SHORT), 'session', 'orig_user', 'master_user', 'login_user', 'domain_first', 'domain_last']);
function isKnown(name: string): boolean {
  return KNOWN.has(name) || name.startsWith('passdb:') || name.startsWith('userdb:') || name.startsWith('env:');
}

/** Parses Dovecot `key=value key2 ...` argument strings; a bare key gets an empty value. */
export function parseKeyValues(args: string): [string, string][] {
  return args
    .split(/\s+/)
    .filter(Boolean)
    .map((tok) => {
      const eq = tok.indexOf('=');
      return eq < 0 ? [tok, ''] : [tok.slice(0, eq), tok.slice(eq + 1)];
    });
}
