// `roost lua check` and the warnings `roost lua test` prints for the scripts under test: the
// script is compiled by the real Lua 5.4 (syntax errors exactly as Dovecot's luaL_loadfile reports
// them), then read as a syntax tree (luaparse) for the Dovecot entry points it defines and for
// code that Roost runs but Dovecot would not: the crashes of Dovecot 2.3 that Roost turns into Lua
// errors (docs: "Never use os.exit()"; storage in mail_user_created, use after free(), metadata on
// an unopened mailbox, two unfinished passthrough events, keeping a mail_user object: Dovecot
// 2.3.19's mail-lua and lib-lua assert and abort) and meanings that change in Dovecot 2.4.
import { readFileSync } from 'node:fs';
import luaparse from 'luaparse';
import { LuaFactory, type LuaEngine } from 'wasmoon';

export interface CheckWarning {
  line: number;
  message: string;
}

export interface CheckResult {
  /** `file:line: message` from the Lua compiler, or null. */
  syntaxError: string | null;
  /** Dovecot functions the script defines as globals, in source order. */
  entryPoints: string[];
  warnings: CheckWarning[];
  /** Why the tree checks could not run (luaparse knows Lua 5.3; 5.4-only syntax stops it). */
  skipped?: string;
}

const NOTIFY_EVENTS = [
  'flags_clear', 'flags_set', 'mailbox_create', 'mailbox_delete', 'mailbox_rename', 'mailbox_subscribe',
  'mailbox_unsubscribe', 'message_append', 'message_expunge', 'message_new', 'message_read', 'message_trash',
].map((e) => `dovecot_lua_notify_event_${e}`);

export const ENTRY_POINTS = new Set([
  'script_init', 'script_deinit',
  'mail_user_created', 'mail_user_deinit_pre', 'mail_user_deinit',
  'auth_passdb_lookup', 'auth_password_verify', 'auth_userdb_lookup', 'auth_userdb_iterate',
  'dovecot_lua_notify_begin_txn', 'dovecot_lua_notify_end_txn', ...NOTIFY_EVENTS,
]);

/** Hooks whose first argument is a fresh mail_user object that must not outlive the call (spec §5.5). */
const USER_HOOKS = new Set(['mail_user_created', 'mail_user_deinit_pre', 'mail_user_deinit', 'dovecot_lua_notify_begin_txn']);
const STORAGE_METHODS = new Set(['mailbox', 'metadata_get', 'metadata_set', 'metadata_unset', 'metadata_list']);

let engine: Promise<LuaEngine> | null = null;

/** Compiles `source` like luaL_loadfile (a first line starting with `#` is skipped); the error or null. */
export async function syntaxError(source: string, chunkName: string): Promise<string | null> {
  const e = await (engine ??= new LuaFactory().createEngine({ openStandardLibs: true, injectObjects: false, enableProxy: false }));
  e.global.set('__check_source', source.replace(/^#[^\n]*/, ''));
  e.global.set('__check_name', `@${chunkName}`);
  const err = e.doStringSync(`local f, err = load(__check_source, __check_name, 't') return err`) as string | null | undefined;
  return err ?? null;
}

export async function checkScript(path: string, displayName = path): Promise<CheckResult> {
  const source = readFileSync(path, 'utf8');
  const error = await syntaxError(source, displayName);
  if (error !== null) return { syntaxError: error, entryPoints: [], warnings: [] };
  return { syntaxError: null, ...analyse(source.replace(/^#[^\n]*/, '')) };
}

// ---- the tree checks ----

type Node = luaparse.Node & { loc?: { start: { line: number } }; range?: [number, number] };

function lineOf(n: Node): number {
  return n.loc?.start.line ?? 0;
}

function children(n: Node): Node[] {
  const out: Node[] = [];
  for (const [k, v] of Object.entries(n)) {
    if (k === 'loc' || k === 'range') continue;
    if (Array.isArray(v)) for (const x of v) if (x && typeof x === 'object' && 'type' in x) out.push(x as Node);
    if (v && typeof v === 'object' && !Array.isArray(v) && 'type' in v) out.push(v as Node);
  }
  return out;
}

/** Visits every node below `n` (depth first, source order), with its parent; `enterFunctions` false stops at nested functions. */
function walk(n: Node, visit: (node: Node, parent: Node | null) => void, enterFunctions = true, parent: Node | null = null): void {
  visit(n, parent);
  for (const c of children(n)) {
    if (!enterFunctions && c.type === 'FunctionDeclaration') {
      visit(c, n);
      continue;
    }
    walk(c, visit, enterFunctions, n);
  }
}

function methodCall(n: Node): { object: Node; method: string } | null {
  if (n.type !== 'CallExpression' && n.type !== 'StringCallExpression' && n.type !== 'TableCallExpression') return null;
  const base = (n as luaparse.CallExpression).base as Node;
  if (base.type !== 'MemberExpression' || (base as luaparse.MemberExpression).indexer !== ':') return null;
  const m = base as luaparse.MemberExpression;
  return { object: m.base as Node, method: m.identifier.name };
}

function nameOf(n: Node): string | null {
  return n.type === 'Identifier' ? (n as luaparse.Identifier).name : null;
}

function globalFunctionName(fn: luaparse.FunctionDeclaration): string | null {
  if (fn.isLocal || !fn.identifier || fn.identifier.type !== 'Identifier') return null;
  return (fn.identifier as luaparse.Identifier & { isLocal?: boolean }).isLocal ? null : fn.identifier.name;
}

/** Names declared in the function itself (parameters, locals, loop variables), not in nested functions. */
function ownLocals(fn: luaparse.FunctionDeclaration): Set<string> {
  const names = new Set<string>();
  for (const p of fn.parameters) if (p.type === 'Identifier') names.add(p.name);
  for (const s of fn.body) {
    walk(s as Node, (n) => {
      if (n.type === 'LocalStatement') for (const v of (n as luaparse.LocalStatement).variables) names.add(v.name);
      if (n.type === 'ForNumericStatement') names.add((n as luaparse.ForNumericStatement).variable.name);
      if (n.type === 'ForGenericStatement') for (const v of (n as luaparse.ForGenericStatement).variables) names.add(v.name);
      if (n.type === 'FunctionDeclaration' && (n as luaparse.FunctionDeclaration).isLocal) {
        const id = (n as luaparse.FunctionDeclaration).identifier;
        if (id?.type === 'Identifier') names.add(id.name);
      }
    }, false);
  }
  return names;
}

function rootName(n: Node): string | null {
  let cur = n;
  while (cur.type === 'MemberExpression' || cur.type === 'IndexExpression') cur = (cur as luaparse.MemberExpression).base as Node;
  return nameOf(cur);
}

function mentions(expr: Node, name: string): boolean {
  let found = false;
  walk(expr, (n) => {
    if (nameOf(n) === name) found = true;
  }, false);
  return found;
}

export function analyse(source: string): Omit<CheckResult, 'syntaxError'> {
  let ast: luaparse.Chunk;
  try {
    ast = luaparse.parse(source, { luaVersion: '5.3', scope: true, locations: true, ranges: true, comments: false });
  } catch (e) {
    return { entryPoints: [], warnings: [], skipped: e instanceof Error ? e.message : String(e) };
  }
  const entryPoints: string[] = [];
  const warnings: CheckWarning[] = [];
  const warn = (n: Node, message: string) => warnings.push({ line: lineOf(n), message });

  const functions: Array<{ fn: luaparse.FunctionDeclaration; name: string | null }> = [];
  walk(ast as Node, (n, parent) => {
    if (n.type === 'FunctionDeclaration') {
      const fn = n as luaparse.FunctionDeclaration;
      let name = globalFunctionName(fn);
      // `name = function(...) end`
      if (!fn.identifier && parent?.type === 'AssignmentStatement') {
        const a = parent as luaparse.AssignmentStatement;
        const i = a.init.indexOf(fn);
        const target = i >= 0 ? a.variables[i] : undefined;
        if (target?.type === 'Identifier' && !(target as luaparse.Identifier & { isLocal?: boolean }).isLocal) name = target.name;
      }
      functions.push({ fn, name });
      if (name && (ENTRY_POINTS.has(name) || name.startsWith('dovecot_lua_notify_'))) {
        if (!entryPoints.includes(name)) entryPoints.push(name);
        if (!ENTRY_POINTS.has(name)) warn(n, `${name} is not a function Dovecot calls (push event handlers: ${NOTIFY_EVENTS.join(', ')})`);
      }
      const localId = fn.isLocal && fn.identifier?.type === 'Identifier' ? fn.identifier.name : null;
      if (localId && ENTRY_POINTS.has(localId)) warn(n, `local function ${localId} is never called: Dovecot calls global functions only`);
    }
    const call = methodCall(n);
    if (n.type === 'CallExpression' || n.type === 'StringCallExpression' || n.type === 'TableCallExpression') {
      const base = (n as luaparse.CallExpression).base as Node;
      if (base.type === 'MemberExpression') {
        const m = base as luaparse.MemberExpression;
        if (nameOf(m.base as Node) === 'os' && m.identifier.name === 'exit') {
          warn(n, 'os.exit() ends the whole Dovecot process (all its sessions); Roost refuses it with a Lua error');
        }
      }
    }
    if (call?.method === 'plugin_getenv') warn(n, 'Dovecot 2.4 removed mail_user:plugin_getenv(); 2.4 passes settings through lua_settings');
  });

  for (const { fn, name } of functions) {
    checkFunction(fn, name, warn);
  }
  warnings.sort((a, b) => a.line - b.line);
  return { entryPoints, warnings };
}

function checkFunction(fn: luaparse.FunctionDeclaration, name: string | null, warn: (n: Node, m: string) => void): void {
  const body = fn.body as Node[];
  const each = (visit: (n: Node, parent: Node | null) => void) => body.forEach((s) => walk(s, visit, false));

  if (name === 'script_init') {
    each((n) => {
      if (n.type !== 'ReturnStatement') return;
      const args = (n as luaparse.ReturnStatement).arguments;
      const zero = args.length === 1 && args[0]!.type === 'NumericLiteral' && (args[0] as luaparse.NumericLiteral).raw === '0';
      if (!zero) {
        warn(n, "script_init's return value decides success only in Dovecot 2.3 (0 = success); Dovecot 2.4 ignores it: raise an error to make initialisation fail");
      }
    });
  }

  if (name === 'mail_user_created') {
    each((n) => {
      const call = methodCall(n);
      if (call && STORAGE_METHODS.has(call.method)) {
        warn(n, `${call.method}() in mail_user_created crashes Dovecot 2.3 (namespaces do not exist yet); use it in mail_user_deinit_pre`);
      }
    });
  }

  if (name && USER_HOOKS.has(name)) {
    const first = fn.parameters[0];
    const user = first?.type === 'Identifier' ? first.name : null;
    const locals = ownLocals(fn);
    if (user) {
      each((n) => {
        if (n.type !== 'AssignmentStatement') return;
        const a = n as luaparse.AssignmentStatement;
        a.variables.forEach((target, i) => {
          const value = a.init[i] as Node | undefined;
          const root = rootName(target as Node);
          if (value && root && !locals.has(root) && mentions(value, user)) {
            warn(n, `the mail_user object of ${name} is kept in '${root}' past the hook: Dovecot 2.3 panics at user deinit (refcount assertion)`);
          }
        });
      });
    }
  }

  // Sequential checks on named objects: free() then use, metadata_set without open(), passthrough events.
  const freed = new Map<string, number>();
  const mailboxes = new Map<string, { opened: boolean }>();
  const openPassthrough: string[] = [];
  each((n, parent) => {
    if (n.type === 'LocalStatement' || n.type === 'AssignmentStatement') {
      const s = n as luaparse.LocalStatement;
      s.variables.forEach((v, i) => {
        const target = nameOf(v as Node);
        if (!target) return;
        freed.delete(target);
        mailboxes.delete(target);
        const init = s.init[i] as Node | undefined;
        const call = init ? methodCall(init) : null;
        if (call?.method === 'mailbox') mailboxes.set(target, { opened: false });
        if (init && isUnfinishedPassthrough(init)) {
          if (openPassthrough.length > 0) {
            warn(n, `a second passthrough event while '${openPassthrough[0]}' is not logged yet: Dovecot 2.3 panics ("Can't create multiple passthrough events")`);
          }
          openPassthrough.push(target);
        }
      });
      return;
    }
    const call = methodCall(n);
    if (!call) return;
    const obj = nameOf(call.object);
    if (call.method === 'passthrough_event' && parent && !isAssignedOrChainedToLog(n, parent) && openPassthrough.length > 0) {
      warn(n, `a second passthrough event while '${openPassthrough[0]}' is not logged yet: Dovecot 2.3 panics ("Can't create multiple passthrough events")`);
    }
    if (!obj) return;
    if (call.method.startsWith('log_')) {
      const i = openPassthrough.indexOf(obj);
      if (i >= 0) openPassthrough.splice(i, 1);
    }
    if (call.method === 'free') {
      freed.set(obj, lineOf(n));
      return;
    }
    const freedAt = freed.get(obj);
    if (freedAt !== undefined) warn(n, `${obj}:${call.method}() after ${obj}:free() (line ${freedAt}): use after free crashes Dovecot 2.3`);
    const box = mailboxes.get(obj);
    if (box && call.method === 'open') box.opened = true;
    if (box && !box.opened && (call.method === 'metadata_set' || call.method === 'metadata_unset')) {
      warn(n, `${obj}:${call.method}() on a mailbox that was not opened: Dovecot 2.3 asserts and crashes; call ${obj}:open() first`);
    }
  });
}

/** `x:passthrough_event()` (possibly with add_* calls chained) that is not ended by a log_* call. */
function isUnfinishedPassthrough(expr: Node): boolean {
  let cur: Node | null = expr;
  while (cur) {
    const call = methodCall(cur);
    if (!call) return false;
    if (call.method.startsWith('log_')) return false;
    if (call.method === 'passthrough_event') return true;
    cur = call.object;
  }
  return false;
}

/** The passthrough_event() call is the start of an assignment (handled there) or of a chain ending in log_*. */
function isAssignedOrChainedToLog(_call: Node, parent: Node): boolean {
  if (parent.type === 'LocalStatement' || parent.type === 'AssignmentStatement') return true;
  return parent.type === 'MemberExpression';
}
