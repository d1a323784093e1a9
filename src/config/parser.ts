// Reads Dovecot's configuration syntax into a tree of settings and sections, following
// config-parser.c of Dovecot 2.3: `key = value`, `type [name] {` ... `}`, `!include[_try] glob`,
// `key = <file`, quoted values, `#` comments, trailing-backslash continuation lines.
// The tree is interpreted (types, defaults, `$var`) by settings-builder.ts.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from './errors.js';

export interface ConfigSettingNode {
  kind: 'setting';
  key: string;
  /** The value with quotes removed; for `<file` values the raw text after `<`. */
  value: string;
  /** `key = <path`: the path, resolved against the including file's folder. */
  filePath?: string;
  /** Unquoted values containing `$` may reference other settings (`$mail_plugins quota`). */
  mayExpand: boolean;
  file: string;
  line: number;
}

export interface ConfigSectionNode {
  kind: 'section';
  /** `service`, `namespace`, `protocol`, ... */
  type: string;
  /** The label after the type (`imap-login`, `inbox`, `"Sent Messages"` unquoted); '' if none. */
  name: string;
  children: ConfigNode[];
  file: string;
  line: number;
}

export type ConfigNode = ConfigSettingNode | ConfigSectionNode;

export interface ParsedConfig {
  nodes: ConfigNode[];
  warnings: string[];
}

/** Nested includes beyond this depth are taken for an include loop. */
const MAX_INCLUDE_DEPTH = 20;

interface ParseState {
  warnings: string[];
  depth: number;
}

/** Parses config text; `fileName` names it in errors and anchors relative includes. */
export function parseConfigTree(text: string, fileName: string): ParsedConfig {
  const state: ParseState = { warnings: [], depth: 0 };
  const nodes = parseText(text, fileName, state);
  return { nodes, warnings: state.warnings };
}

function parseText(text: string, fileName: string, state: ParseState): ConfigNode[] {
  const root: ConfigNode[] = [];
  const stack: ConfigSectionNode[] = [];
  const current = () => (stack.length ? stack[stack.length - 1]!.children : root);
  const baseDir = dirname(fileName);
  const rawLines = text.split(/\r?\n/);

  for (let i = 0; i < rawLines.length; i++) {
    const lineNo = i + 1;
    let line = rawLines[i]!;
    // A trailing backslash joins the next line, separated by one space (Dovecot: "a\" + "b" = "a b").
    while (line.endsWith('\\') && i + 1 < rawLines.length) {
      line = line.slice(0, -1).trimEnd() + ' ' + rawLines[++i]!.trim();
    }
    const fail = (reason: string, setting?: string): never => {
      throw new ConfigError(fileName, lineNo, reason, setting);
    };
    line = stripComment(line.trim(), (msg) => state.warnings.push(`${fileName} line ${lineNo}: ${msg}`));
    if (line === '') continue;

    if (line === '}') {
      if (!stack.length) fail("Unexpected '}'");
      stack.pop();
      continue;
    }
    if (line.startsWith('!include')) {
      const m = /^!(include|include_try)\s+(.+)$/.exec(line);
      if (!m) fail(`Invalid include line: ${line}`);
      const pattern = unquote(m![2]!.trim());
      const full = isAbsolute(pattern) ? pattern : join(baseDir, pattern);
      const files = expandGlob(full);
      if (files.length === 0) {
        if (m![1] === 'include_try') continue;
        fail(`!include ${pattern}: No matches`);
      }
      if (state.depth >= MAX_INCLUDE_DEPTH) fail(`!include ${pattern}: includes nested too deeply (a loop?)`);
      for (const f of files) {
        let content: string;
        try {
          content = readFileSync(f, 'utf8');
        } catch (e) {
          fail(`!include ${f}: ${(e as Error).message}`);
        }
        state.depth++;
        current().push(...parseText(content!, f, state));
        state.depth--;
      }
      continue;
    }

    const keyMatch = /^[^\s={}]+/.exec(line);
    if (!keyMatch) fail(`Invalid line: ${line}`);
    const key = keyMatch![0];
    let rest = line.slice(key.length).trimStart();

    if (rest.startsWith('=')) {
      let value = rest.slice(1).trim();
      const node: ConfigSettingNode = { kind: 'setting', key, value, mayExpand: false, file: fileName, line: lineNo };
      if (value.startsWith('<')) {
        const path = value.slice(1).trim();
        if (path === '') fail('Missing file name after <', key);
        node.value = path;
        node.filePath = isAbsolute(path) ? path : resolve(baseDir, path);
      } else if (isQuoted(value)) {
        node.value = unquote(value);
      } else {
        node.mayExpand = value.includes('$');
      }
      current().push(node);
      continue;
    }

    // Section start: `type {` or `type name {` (name may be quoted: `mailbox "Sent Messages" {`).
    if (!rest.endsWith('{')) fail(rest.includes('{') ? "Garbage after '{'" : "Expecting '='", key);
    rest = rest.slice(0, -1).trim();
    if (/[{}]/.test(rest.replace(/^"(?:[^"\\]|\\.)*"$/, ''))) fail("Garbage after '{'");
    const section: ConfigSectionNode = {
      kind: 'section',
      type: key,
      name: isQuoted(rest) ? unquote(rest) : rest,
      children: [],
      file: fileName,
      line: lineNo,
    };
    if (/\s/.test(section.name) && !isQuoted(rest)) fail(`Expecting '{' after section name: ${line}`);
    current().push(section);
    stack.push(section);
  }
  if (stack.length) {
    const open = stack[stack.length - 1]!;
    throw new ConfigError(fileName, 0, `Missing '}' (section started at ${open.file}:${open.line})`);
  }
  return root;
}

/**
 * Drops a `#` comment outside quotes. Like Dovecot, a `#` glued to a word still starts a comment
 * but earns a warning.
 */
function stripComment(line: string, warn: (msg: string) => void): string {
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '#') {
      if (i > 0 && !/\s/.test(line[i - 1]!)) {
        warn("Ambiguous '#' character in line, treating it as comment. Add a space before it to remove this warning.");
      }
      return line.slice(0, i).trimEnd();
    }
  }
  return line;
}

function isQuoted(v: string): boolean {
  return v.length >= 2 && (v[0] === '"' || v[0] === "'") && v[v.length - 1] === v[0];
}

/** Removes matching quotes and backslash escapes (Dovecot's str_unescape), for both quote kinds. */
export function unquote(v: string): string {
  if (!isQuoted(v)) return v;
  return v.slice(1, -1).replace(/\\(.)/g, '$1');
}

/** Quotes a value for printing when it would otherwise read back differently. */
export function quoteIfNeeded(v: string): string {
  if (v === '') return '';
  if (/^\s|\s$|[#"'$\\]|^</.test(v)) return '"' + v.replace(/[\\"]/g, (c) => '\\' + c) + '"';
  return v;
}

/** Minimal glob (`*`, `?`, `[...]` in any path segment), sorted like glob(3). */
export function expandGlob(pattern: string): string[] {
  if (!/[*?[]/.test(pattern)) {
    try {
      statSync(pattern);
      return [pattern];
    } catch {
      return [];
    }
  }
  const parts = pattern.split('/');
  let bases = [parts[0] === '' ? '/' : parts[0]!];
  for (const part of parts.slice(1)) {
    if (part === '') continue;
    const next: string[] = [];
    for (const base of bases) {
      if (!/[*?[]/.test(part)) {
        next.push(join(base, part));
        continue;
      }
      const re = globSegmentToRegExp(part);
      let entries: string[] = [];
      try {
        entries = readdirSync(base);
      } catch {
        continue;
      }
      for (const e of entries.sort()) if (re.test(e) && !(e.startsWith('.') && !part.startsWith('.'))) next.push(join(base, e));
    }
    bases = next;
  }
  return bases.filter((p) => {
    try {
      statSync(p);
      return true;
    } catch {
      return false;
    }
  });
}

function globSegmentToRegExp(seg: string): RegExp {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = seg.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += '[' + seg.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\') + ']';
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp('^' + re + '$');
}
