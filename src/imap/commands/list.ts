// LIST (RFC 3501 §6.3.8, RFC 5258 LIST-EXTENDED, RFC 5819 LIST-STATUS, RFC 6154 SPECIAL-USE,
// RFC 3348 CHILDREN) and LSUB (§6.3.9). Attributes as Dovecot lists them: \HasChildren or
// \HasNoChildren always, \Noselect for placeholders, special-use flags, \Subscribed when asked.
import { utf8MailboxNames } from './imap4rev2.js';
import type { MailboxInfo } from '../../storage/types.js';
import { compileMailboxPattern, formatMailbox, joinReferenceAndPattern, type MailboxMatcher } from '../protocol/index.js';
import { mailboxAstring, statusLine } from './mailboxes.js';
import { AUTHENTICATED, ok, type CommandHandler } from './types.js';

export const LIST: CommandHandler<'LIST'> = {
  states: AUTHENTICATED,
  async run(session, _tag, cmd) {
    const store = session.store;
    const sep = store.separator;
    const quotedSep = formatMailbox(sep);
    // RFC 3501 §6.3.8: an empty pattern asks for the separator and the root.
    if (!cmd.extended && cmd.patterns.length === 1 && cmd.patterns[0] === '') {
      session.respond(`* LIST (\\Noselect) ${quotedSep} ""\r\n`);
      return ok('List completed.');
    }
    const matchers = cmd.patterns.filter((p) => p !== '').map((p) => compileMailboxPattern(joinReferenceAndPattern(cmd.reference, p, sep), sep));
    const matches = (name: string) => matchers.some((m) => m.matches(name));
    const mailboxes = await store.listMailboxes();
    const byName = new Map(mailboxes.map((m) => [m.name, m]));
    const subscribed = new Set(await store.listSubscriptions());
    const hasChildren = childrenIndex(mailboxes.map((m) => m.name), sep);
    const sel = cmd.selection;
    const wantSubscribed = cmd.returns.subscribed || sel.subscribed;
    const wantStatus = cmd.returns.status;

    const names: string[] = [];
    if (sel.subscribed) {
      const all = new Set([...subscribed].filter(matches));
      // RFC 5258 §3.5 RECURSIVEMATCH: parents of subscribed matches are listed with CHILDINFO, but
      // only for a subscribed descendant that is not itself being returned ("servers SHOULD
      // suppress redundant non-matching mailbox names"; Dovecot does).
      if (sel.recursiveMatch) {
        for (const s of subscribed) {
          if (matches(s)) continue;
          for (const parent of parents(s, sep)) if (matches(parent)) all.add(parent);
        }
      }
      names.push(...[...all].sort());
    } else {
      for (const m of mailboxes) if (matches(m.name)) names.push(m.name);
    }

    for (const name of names) {
      const info = byName.get(name);
      const attrs: string[] = [];
      if (!info) attrs.push(sel.subscribed && subscribed.has(name) ? '\\NonExistent' : '\\Noselect');
      else if (info.noselect) attrs.push('\\Noselect');
      if (info) attrs.push(hasChildren.has(name) ? '\\HasChildren' : '\\HasNoChildren');
      if (wantSubscribed && subscribed.has(name)) attrs.push('\\Subscribed');
      const special = info?.specialUse ?? [];
      if (sel.specialUse && special.length === 0 && !(sel.recursiveMatch && hasSpecialChild(name, mailboxes, sep))) continue;
      attrs.push(...special);
      let extra = '';
      if (sel.recursiveMatch && sel.subscribed && !subscribed.has(name)) extra = ' ("CHILDINFO" ("SUBSCRIBED"))';
      else if (sel.recursiveMatch && sel.subscribed && [...subscribed].some((s) => s.startsWith(name + sep))) extra = ' ("CHILDINFO" ("SUBSCRIBED"))';
      session.respond(`* LIST (${attrs.join(' ')}) ${quotedSep} ${mailboxAstring(name, utf8MailboxNames(session))}${extra}\r\n`);
      // RFC 5819: STATUS follows the LIST line of each selectable mailbox.
      if (wantStatus && info && !info.noselect) {
        if (wantStatus.includes('HIGHESTMODSEQ')) await session.enableExtension('CONDSTORE');
        session.respond(await statusLine(session, name, await session.store.status(name), wantStatus));
      }
    }
    return ok('List completed.');
  },
};

export const LSUB: CommandHandler<'LSUB'> = {
  states: AUTHENTICATED,
  async run(session, _tag, cmd) {
    const sep = session.store.separator;
    const quotedSep = formatMailbox(sep);
    if (cmd.pattern === '') {
      session.respond(`* LSUB (\\Noselect) ${quotedSep} ""\r\n`);
      return ok('Lsub completed.');
    }
    const matcher: MailboxMatcher = compileMailboxPattern(joinReferenceAndPattern(cmd.reference, cmd.pattern, sep), sep);
    const existing = new Map((await session.store.listMailboxes()).map((m) => [m.name, m]));
    const subscribed = await session.store.listSubscriptions();
    const lines = new Map<string, string>();
    for (const name of subscribed) {
      if (matcher.matches(name)) {
        const info = existing.get(name);
        lines.set(name, info && !info.noselect ? '' : '\\Noselect');
        continue;
      }
      // RFC 3501 §6.3.9: with `%`, an unsubscribed parent of a subscribed match is \Noselect.
      for (const parent of parents(name, sep)) if (matcher.matches(parent) && !lines.has(parent)) lines.set(parent, '\\Noselect');
    }
    for (const name of [...lines.keys()].sort()) session.respond(`* LSUB (${lines.get(name)}) ${quotedSep} ${mailboxAstring(name, utf8MailboxNames(session))}\r\n`);
    return ok('Lsub completed.');
  },
};

/** Names that have at least one child mailbox. */
function childrenIndex(names: string[], sep: string): Set<string> {
  const out = new Set<string>();
  for (const n of names) for (const p of parents(n, sep)) out.add(p);
  return out;
}

/** `a/b/c` → `a`, `a/b`. */
function parents(name: string, sep: string): string[] {
  const parts = name.split(sep);
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join(sep));
  return out;
}

function hasSpecialChild(name: string, all: MailboxInfo[], sep: string): boolean {
  return all.some((m) => m.name.startsWith(name + sep) && m.specialUse.length > 0);
}
