// GETMETADATA / SETMETADATA (RFC 5464), only with `imap_metadata = yes` as in Dovecot. Mailbox ""
// is the server; entries are /private/... or /shared/...; limits imap_metadata_max_value_size
// ([METADATA MAXSIZE n]) and imap_metadata_max_entries ([METADATA TOOMANY]).
import { utf8MailboxNames } from './imap4rev2.js';
import { isDovecotInternalEntry } from '../../storage/index.js';
import { StorageError, type MetadataEntry } from '../../storage/types.js';
import { formatAstring, formatString } from '../protocol/index.js';
import { mailboxAstring } from './mailboxes.js';
import { AUTHENTICATED, badSyntax, no, ok, type CommandHandler } from './types.js';

const DISABLED = 'METADATA disabled.';

export const GETMETADATA: CommandHandler<'GETMETADATA'> = {
  states: AUTHENTICATED,
  async run(session, _tag, cmd) {
    if (!session.settings.imap_metadata) return badSyntax(DISABLED);
    const store = session.store;
    if (cmd.mailbox !== '') await store.status(cmd.mailbox); // NONEXISTENT for a missing mailbox
    const found: Array<[string, Buffer | null]> = [];
    for (const entry of cmd.entries) {
      if (cmd.depth === '0') {
        // Dovecot: internal attributes (vendor/vendor.dovecot/pvt/, e.g. the URLAUTH key) read as NIL.
        const [hit] = isDovecotInternalEntry(entry) ? [] : await store.getMetadata(cmd.mailbox, [entry]);
        // RFC 5464 §4.2: an entry asked for by name that has no value is returned as NIL.
        found.push([entry, hit ? hit.value : null]);
      } else {
        const depth = cmd.depth === '1' ? 1 : 'infinity';
        const list: MetadataEntry[] = (await store.listMetadata(cmd.mailbox, entry, depth)).filter((e) => !isDovecotInternalEntry(e.entry));
        for (const e of list) found.push([e.entry, e.value]);
      }
    }
    // RFC 5464 §4.2.1 MAXSIZE: bigger values are left out and the longest one reported.
    let longest = 0;
    const shown = found.filter(([, v]) => {
      if (cmd.maxSize === null || v === null || v.length <= cmd.maxSize) return true;
      longest = Math.max(longest, v.length);
      return false;
    });
    if (shown.length > 0) {
      const items = shown.map(([e, v]) => `${formatAstring(e)} ${v === null ? 'NIL' : formatString(v)}`);
      session.respond(`* METADATA ${cmd.mailbox === '' ? '""' : mailboxAstring(cmd.mailbox, utf8MailboxNames(session))} (${items.join(' ')})\r\n`);
    }
    if (longest > 0) return ok('Getmetadata completed.', `METADATA LONGENTRIES ${longest}`);
    return ok('Getmetadata completed.');
  },
};

export const SETMETADATA: CommandHandler<'SETMETADATA'> = {
  states: AUTHENTICATED,
  async run(session, _tag, cmd) {
    if (!session.settings.imap_metadata) return badSyntax(DISABLED);
    const store = session.store;
    if (cmd.mailbox !== '') await store.status(cmd.mailbox);
    if (cmd.entries.some(({ entry }) => isDovecotInternalEntry(entry))) return no('Internal mailbox attributes cannot be accessed', 'CANNOT');
    const maxValue = session.settings.imap_metadata_max_value_size;
    for (const { value } of cmd.entries) {
      if (value !== null && value.length > maxValue) return no('Metadata entry value too large', `METADATA MAXSIZE ${maxValue}`);
    }
    try {
      await store.setMetadataMany(cmd.mailbox, cmd.entries, { maxEntries: session.settings.imap_metadata_max_entries });
    } catch (err) {
      if (err instanceof StorageError && err.code === 'TOOBIG') return no('Metadata entry value too large', `METADATA MAXSIZE ${maxValue}`);
      if (err instanceof StorageError && err.code === 'LIMIT') return no('Too many metadata entries', 'METADATA TOOMANY');
      throw err;
    }
    return ok('Setmetadata completed.');
  },
};
