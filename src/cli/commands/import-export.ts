// `roost import -u USER maildir:PATH | mbox:PATH` and `roost export -u USER maildir:PATH |
// mbox:PATH`, like `doveadm import` / `doveadm backup`: flags, keywords, internal dates,
// subscriptions and the source's UIDs and UIDVALIDITY are kept, so clients do not download
// everything again. mbox:PATH is one mbox file (into -m MAILBOX, INBOX by default) or a tree in
// Dovecot's mbox layout (mbox.ts). A message already imported (same GUID in the mailbox: the
// maildir base name, or a hash for mbox) is skipped, so running an import twice duplicates nothing.
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import type { AnyMailUser as MailUser } from '../../mail-user/mail-user.js';
import { imapMessageSize, parseMessage } from '../../mime/parser.js';
import type { UserStore } from '../../storage/types.js';
import { optionValue, parseArgs, requireOption, UsageError } from '../args.js';
import type { CliEnv } from '../cli-context.js';
import { guidOfBaseName, readMaildir, readSubscriptions, writeMaildirFolder, writeSubscriptions, type ExportMessage } from '../maildir.js';
import { checkMboxLayout, MBOX_SUBSCRIPTIONS, readMbox, readMboxTree, writeMboxFolder } from '../mbox.js';
import { withMailUser } from './user-session.js';

const IMPORT_USAGE = 'usage: roost import -u USER [-m MAILBOX] maildir:PATH | mbox:FILE | mbox:DIR';
const EXPORT_USAGE = 'usage: roost export -u USER maildir:PATH | mbox:DIR';
/** Messages per transaction (one commit and WAL sync each). */
const BATCH = 500;

interface Incoming {
  guid: string;
  uid?: number;
  flags: string[];
  internalDate: Date;
  content: () => Buffer;
}

function location(spec: string | undefined, usage: string): { kind: 'maildir' | 'mbox'; path: string } {
  const m = /^(maildir|mbox):(.+)$/.exec(spec ?? '');
  if (!m) throw new UsageError(usage);
  return { kind: m[1] as 'maildir' | 'mbox', path: m[2]! };
}

/** Opens (creating) the mailbox and takes over the source's UIDVALIDITY while it is still unused. */
async function prepareMailbox(store: UserStore, name: string, uidValidity: number | undefined): Promise<void> {
  const mb = await store.getMailbox(name);
  if (!mb || mb.noselect) await store.createMailbox(name);
  const now = (await store.getMailbox(name))!;
  if (uidValidity && now.uidValidity !== uidValidity && now.uidNext === 1) await store.setMailboxUids(name, { uidValidity });
}

/** Appends what the mailbox does not have yet; returns [imported, skipped]. */
async function importInto(store: UserStore, name: string, source: { uidValidity?: number; uidNext?: number }, messages: Incoming[]): Promise<[number, number]> {
  const mb = (await store.getMailbox(name))!;
  const present = await store.listMessages(mb.id);
  const have = new Set(present.map((m) => m.guid));
  const sameUids = source.uidValidity !== undefined && source.uidValidity === mb.uidValidity;
  // Under the same UIDVALIDITY a UID names one message for good (RFC 3501 §2.3.1.1): one that is
  // here already is this message, whatever its GUID (an mbox carries none).
  const haveUids = new Set(sameUids ? present.map((m) => m.uid) : []);
  let imported = 0;
  const todo = messages.filter((m) => !have.has(m.guid) && !(m.uid !== undefined && haveUids.has(m.uid)));
  const skipped = messages.length - todo.length;
  for (let i = 0; i < todo.length; i += BATCH) {
    const inputs = todo.slice(i, i + BATCH).map((m) => {
      const content = m.content();
      const mimeStructure = parseMessage(content);
      return {
        content,
        flags: m.flags,
        internalDate: m.internalDate,
        mimeStructure,
        virtualSize: imapMessageSize(mimeStructure),
        guid: m.guid,
        // The source's UID when it is still free there; otherwise a new one (clients see a new message).
        uid: sameUids ? m.uid : undefined,
      };
    });
    imported += (await store.importMessages(name, inputs)).length;
  }
  if (sameUids && source.uidNext) await store.setMailboxUids(name, { uidNext: source.uidNext });
  return [imported, skipped];
}

export async function runImport(env: CliEnv, argv: string[]): Promise<number> {
  const args = parseArgs(argv, [
    { names: ['u', 'user'], value: true },
    { names: ['m', 'mailbox'], value: true },
  ]);
  const username = requireOption(args, 'u', 'user');
  if (args.positional.length !== 1) throw new UsageError(IMPORT_USAGE);
  const src = location(args.positional[0], IMPORT_USAGE);
  if (!existsSync(src.path)) throw new UsageError(`${src.path}: no such file or directory`, 66);
  return withMailUser(env, username, async (user: MailUser) => {
    const store: UserStore = user.getStore();
    let imported = 0;
    let skipped = 0;
    const add = ([i, s]: [number, number]) => ((imported += i), (skipped += s));
    if (src.kind === 'maildir') {
      const folders = readMaildir(src.path);
      for (const f of folders) {
        const name = f.name === 'INBOX' ? 'INBOX' : f.name.split('/').join(store.separator);
        await prepareMailbox(store, name, f.uidValidity);
        add(
          await importInto(
            store,
            name,
            f,
            f.messages.map((m) => ({ guid: guidOfBaseName(m.baseName), uid: m.uid, flags: m.flags, internalDate: m.internalDate, content: () => readFileSync(m.path) })),
          ),
        );
      }
      for (const s of readSubscriptions(src.path)) await store.setSubscribed(s.split('/').join(store.separator), true);
    } else if (statSync(src.path).isDirectory()) {
      if (optionValue(args, 'm') !== undefined) throw new UsageError(`mbox:${src.path} is a tree: its mailboxes are named by their paths (-m is for one mbox file)`);
      const skippedFiles: string[] = [];
      for (const f of readMboxTree(src.path, skippedFiles)) {
        const name = f.name === 'INBOX' ? 'INBOX' : f.name.split('/').join(store.separator);
        await prepareMailbox(store, name, f.uidValidity);
        add(await importInto(store, name, f, f.messages.map((m) => ({ ...m, content: () => m.content }))));
      }
      for (const path of skippedFiles) env.io.err(`roost: Warning: ${path}: not an mbox file (no From_ line first), skipped\n`);
      for (const s of readSubscriptions(src.path, MBOX_SUBSCRIPTIONS)) await store.setSubscribed(s.split('/').join(store.separator), true);
    } else {
      const target = optionValue(args, 'm') ?? 'INBOX';
      const file = readMbox(src.path);
      await prepareMailbox(store, target, file.uidValidity);
      add(await importInto(store, target, file, file.messages.map((m) => ({ ...m, content: () => m.content }))));
    }
    env.io.out(`Imported ${imported} message(s), skipped ${skipped} already present\n`);
    return 0;
  });
}

export async function runExport(env: CliEnv, argv: string[]): Promise<number> {
  const args = parseArgs(argv, [{ names: ['u', 'user'], value: true }]);
  const username = requireOption(args, 'u', 'user');
  if (args.positional.length !== 1) throw new UsageError(EXPORT_USAGE);
  const dest = location(args.positional[0], EXPORT_USAGE);
  if (existsSync(dest.path) && readdirSync(dest.path).length > 0) throw new UsageError(`${dest.path} is not empty`, 73);
  return withMailUser(env, username, async (user: MailUser) => {
    const store: UserStore = user.getStore();
    let count = 0;
    const mailboxes = await store.listMailboxes();
    const selectable = mailboxes.filter((m) => !m.noselect);
    const pathName = (name: string) => name.split(store.separator).join('/');
    if (dest.kind === 'mbox') checkMboxLayout(selectable.filter((m) => m.name !== 'INBOX').map((m) => pathName(m.name)));
    mkdirSync(dest.path, { recursive: true });
    if (!mailboxes.some((m) => m.name === 'INBOX')) {
      if (dest.kind === 'maildir') writeMaildirFolder(dest.path, 'INBOX', { uidValidity: 1, uidNext: 1 }, []);
      else writeMboxFolder(dest.path, 'INBOX', { uidValidity: 1, uidNext: 1 }, []);
    }
    for (const mb of selectable) {
      const messages: ExportMessage[] = [];
      for (const m of await store.listMessages(mb.id)) {
        const body = await store.openBody(m.bodyId);
        messages.push({ uid: m.uid, guid: m.guid, flags: m.flags, internalDate: m.internalDate, content: await body.read(0, body.size) });
      }
      const ids = { uidValidity: mb.uidValidity, uidNext: mb.uidNext };
      if (dest.kind === 'maildir') writeMaildirFolder(dest.path, pathName(mb.name), ids, messages);
      else writeMboxFolder(dest.path, pathName(mb.name), ids, messages);
      count += messages.length;
    }
    const subscribed = (await store.listSubscriptions()).map(pathName);
    writeSubscriptions(dest.path, subscribed, dest.kind === 'maildir' ? 'subscriptions' : MBOX_SUBSCRIPTIONS);
    env.io.out(`Exported ${count} message(s) from ${selectable.length} mailbox(es)\n`);
    return 0;
  });
}
