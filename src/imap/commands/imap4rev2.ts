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

/**
 * Mailbox names travel as UTF-8, not modified UTF-7: after ENABLE UTF8=ACCEPT (RFC 6855 §3) or
 * ENABLE IMAP4rev2 (RFC 9051 §5.1 and appendix E).
 */
export function utf8MailboxNames(session: Pick<CommandContext, 'isEnabled'>): boolean {
  return session.isEnabled('UTF8=ACCEPT') || session.isEnabled('IMAP4rev2');
}
