// IMAP4rev2 (RFC 9051), advertised next to IMAP4rev1; `ENABLE IMAP4rev2` switches the session to
// rev2's rules (RFC 9051 §6.3.1): the selected view drops \Recent (select.ts does it for later
// SELECTs), and SEARCH without RETURN answers ESEARCH (search.ts).
import type { CommandContext, SessionHooks } from './context.js';

export function imap4rev2Hooks(session: CommandContext): SessionHooks {
  return {
    enabled(extension) {
      if (extension === 'IMAP4rev2') session.selected?.hideRecent();
    },
  };
}
