// Worker side: the storage operations behind the mailbox and mail_user Lua objects (spec §7.5,
// §7.6, §8). Called synchronously from Lua; every function returns an error text ('' = success)
// first, so Lua raises Dovecot's wrapped message itself. Metadata values cross as hex: wasmoon
// converts strings as NUL-terminated UTF-8, and attribute values are binary (spec §8.4).
import { LuaMultiReturn } from 'wasmoon';
import { normalizeMailboxName } from '../../storage/mailbox-names.js';
import { StorageError, type MetadataEntry, type SyncUserStore, type UserStoreOptions } from '../../storage/types.js';
import { acquireStore, releaseStore } from './store-cache.js';

/** dovecot.storage.MAILBOX_FLAG_* handled by open (spec §6). */
const MAILBOX_FLAG_AUTO_CREATE = 4096;
const MAILBOX_FLAG_AUTO_SUBSCRIBE = 8192;

/**
 * Dovecot keeps user (server) metadata as INBOX attributes under this prefix (spec §7.6). Roost
 * stores it as server metadata (mailbox ''), which is what IMAP `GETMETADATA ""` reads; on INBOX
 * the raw Dovecot keys are mapped onto it so scripts that use them see the same entries.
 */
const INBOX_SERVER_ALIAS = /^\/(private|shared)\/vendor\/vendor\.dovecot\/pvt\/server\/(.+)$/i;
const aliasOf = (serverEntry: string) =>
  serverEntry.replace(/^\/(private|shared)\//i, (_m, scope: string) => `/${scope}/vendor/vendor.dovecot/pvt/server/`);

/** Names the Lua API takes (metadata-entries.ts), and the one it refuses: an empty name. */
const LUA_NAMES = { anyName: true } as const;
const EMPTY_NAME = /^\/(private|shared)\/$/i;

export interface ServerAttributes {
  admin: string;
  comment: string;
}

export class StorageHost {
  private store: SyncUserStore | null = null;

  constructor(
    private readonly opts: UserStoreOptions | { error: string },
    private readonly serverAttributes: ServerAttributes,
  ) {}

  /** Host functions for the Lua chunks (see mailbox.ts, mail-user.ts). */
  functions() {
    return {
      mailbox_open: (vname: string, flags: number) => this.guard(() => this.open(vname, flags)),
      mailbox_status: (vname: string) => this.guard(() => this.status(vname)),
      meta_get: (target: string, entry: string) => this.guard(() => this.metaGet(target, entry)),
      meta_set: (target: string, entry: string, hex: string | null | undefined) =>
        this.guard(() => this.metaSet(target, entry, hex ?? null)),
      meta_list: (target: string, prefix: string) => this.guard(() => this.metaList(target, prefix)),
      release: () => this.release(),
    };
  }

  release(): void {
    if (!this.store || 'error' in this.opts) return;
    this.store = null;
    releaseStore(this.opts);
  }

  private guard(fn: () => unknown[]): LuaMultiReturn {
    try {
      // wasmoon cannot push a null inside a multi-return (it probes `.then`): nil is undefined.
      return LuaMultiReturn.from(['', ...fn().map((v) => v ?? undefined)]) as LuaMultiReturn;
    } catch (e) {
      return LuaMultiReturn.from([errorText(e)]) as LuaMultiReturn;
    }
  }

  private get userStore(): SyncUserStore {
    if ('error' in this.opts) throw new Error(this.opts.error);
    if (!this.store) this.store = acquireStore(this.opts);
    return this.store;
  }

  private name(vname: string): string {
    return normalizeMailboxName(vname, this.userStore.separator);
  }

  private open(vname: string, flags: number): unknown[] {
    const name = this.name(vname);
    const box = this.userStore.getMailbox(name);
    if (box && !box.noselect) return [];
    if (!(flags & MAILBOX_FLAG_AUTO_CREATE)) throw notFound(vname);
    this.userStore.createMailbox(name);
    if (flags & MAILBOX_FLAG_AUTO_SUBSCRIBE) this.userStore.setSubscribed(name, true);
    return [];
  }

  private status(vname: string): unknown[] {
    const s = this.withName(vname, () => this.userStore.status(this.name(vname)));
    return [
      s.messages,
      s.recent,
      s.unseen,
      s.uidValidity,
      s.uidNext,
      s.firstUnseenSeq,
      s.firstRecentUid,
      s.highestModseq,
      s.keywords.join(' '),
      s.modseqTracking,
    ];
  }

  /** '' = the user's server metadata; otherwise a mailbox. */
  private resolve(target: string, entry: string): [string, string] {
    if (target === '') return ['', entry];
    const name = this.name(target);
    const m = name === 'INBOX' ? INBOX_SERVER_ALIAS.exec(entry) : null;
    return m ? ['', `/${m[1]!.toLowerCase()}/${m[2]!}`] : [name, entry];
  }

  private metaGet(target: string, entry: string): unknown[] {
    const [mailbox, key] = this.resolve(target, entry);
    if (EMPTY_NAME.test(key)) return [null]; // never stored (metaSet)
    const found = this.withName(target, () => this.userStore.getMetadata(mailbox, [key], LUA_NAMES))[0];
    if (found) return [found.value.toString('hex')];
    return [this.builtins(mailbox === '' ? '' : target).find((e) => e.entry.toLowerCase() === key.toLowerCase())?.value.toString('hex') ?? null];
  }

  private metaSet(target: string, entry: string, hex: string | null): unknown[] {
    const [mailbox, key] = this.resolve(target, entry);
    const value = hex === null ? null : Buffer.from(hex, 'hex');
    if (EMPTY_NAME.test(key)) {
      // Dovecot 2.3.19 accepts "/private/" and then finds its own index log corrupted ("attribute
      // update: Empty key"): a deliberate difference (docs/dovecot-differences.md).
      throw new Error(`Invalid metadata entry ${JSON.stringify(entry)}: the name after ${key} is empty`);
    }
    this.withName(target, () => this.userStore.setMetadata(mailbox, key, value, LUA_NAMES));
    return [];
  }

  /** Every entry whose full name starts with `prefix` (a string prefix, as Dovecot's iteration), as `key\thex` lines. */
  private metaList(target: string, prefix: string): unknown[] {
    const scope = /^\/shared\//i.test(prefix) ? '/shared' : '/private';
    const entries = new Map<string, MetadataEntry>();
    const add = (list: MetadataEntry[], map: (e: string) => string = (e) => e) => {
      for (const e of list) if (!entries.has(map(e.entry).toLowerCase())) entries.set(map(e.entry).toLowerCase(), { ...e, entry: map(e.entry) });
    };
    const name = target === '' ? '' : this.name(target);
    add(this.withName(target, () => this.userStore.listMetadata(name, scope, 'infinity')));
    if (name === 'INBOX') add(this.userStore.listMetadata('', scope, 'infinity'), aliasOf);
    add(this.builtins(target).filter((e) => e.entry.toLowerCase().startsWith(`${scope}/`)));
    const lower = prefix.toLowerCase();
    const lines: string[] = [];
    for (const e of entries.values()) {
      if (!e.entry.toLowerCase().startsWith(lower)) continue;
      lines.push(`${prefix}${e.entry.slice(prefix.length)}\t${e.value.toString('hex')}`);
    }
    return [lines.join('\n')];
  }

  /**
   * Dovecot's built-in attributes (spec §7.6, §8.4): server `/shared/admin` and `/shared/comment`
   * (mail_server_admin / mail_server_comment), mailbox `/private/comment`, `/shared/comment` and
   * `/private/specialuse`. INBOX also shows the server's under their raw Dovecot names
   * (`/shared/vendor/vendor.dovecot/pvt/server/admin`, ...), as Dovecot 2.3.19 lists them there.
   */
  private builtins(target: string): MetadataEntry[] {
    const entry = (name: string, value: string) => ({ entry: name, value: Buffer.from(value, 'utf8') });
    const server = [entry('/shared/admin', this.serverAttributes.admin), entry('/shared/comment', this.serverAttributes.comment)];
    if (target === '') return server;
    const name = this.name(target);
    const box = this.userStore.getMailbox(name);
    const own = [entry('/private/comment', ''), entry('/shared/comment', ''), entry('/private/specialuse', box?.specialUse.join(' ') ?? '')];
    return name === 'INBOX' ? [...own, ...server.map((e) => ({ ...e, entry: aliasOf(e.entry) }))] : own;
  }

  /** Storage "not found" errors get Dovecot's `Mailbox doesn't exist: <vname>` text. */
  private withName<T>(vname: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof StorageError && e.code === 'NONEXISTENT') throw notFound(vname);
      throw e;
    }
  }
}

function notFound(vname: string): Error {
  return new Error(`Mailbox doesn't exist: ${vname}`);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
