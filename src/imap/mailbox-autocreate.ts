// `namespace inbox { mailbox Sent { special_use = \Sent  auto = subscribe } }`: Dovecot creates (and
// subscribes) such mailboxes when the user's namespaces are set up; Roost does it at IMAP login.
// special_use from the config is applied to an existing mailbox that has none of its own.
import type { NamespaceSettings } from '../config/index.js';
import { StorageError, type UserStore } from '../storage/types.js';

export function autocreateMailboxes(store: UserStore, namespaces: readonly NamespaceSettings[]): void {
  const ns = namespaces.find((n) => n.inbox) ?? namespaces[0];
  if (!ns) return;
  for (const box of ns.mailboxes) {
    const name = box.name.toUpperCase() === 'INBOX' ? 'INBOX' : box.name;
    let info = store.getMailbox(name);
    if (!info && box.auto !== 'no') {
      try {
        info = store.createMailbox(name, box.special_use.length > 0 ? { specialUse: box.special_use } : undefined);
        if (box.auto === 'subscribe') store.setSubscribed(name, true);
      } catch (err) {
        // Another session of the same user may have created it a moment ago.
        if (!(err instanceof StorageError && err.code === 'ALREADYEXISTS')) throw err;
        info = store.getMailbox(name);
      }
    }
    if (info && !info.noselect && info.specialUse.length === 0 && box.special_use.length > 0) store.setSpecialUse(name, box.special_use);
  }
}
