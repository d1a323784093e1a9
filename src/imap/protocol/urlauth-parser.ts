// Arguments of the RFC 4467 / RFC 5524 URLAUTH commands. Dovecot answers "URLAUTH disabled" before
// it reads them, so a malformed argument list is kept as `invalid` (with the BAD text Dovecot
// gives) rather than thrown, and the handler decides which answer wins.
import type { ImapArg } from './args.js';
import { argToAstring, argToAtom } from './args.js';
import { decodeMailbox, type ParseOptions } from './arg-cursor.js';
import type { GenUrlAuthRequest, UrlFetchRequest } from './commands.js';

const INVALID = 'Invalid arguments';

/** GENURLAUTH url-rump mechanism [url-rump mechanism ...] (RFC 4467 §6.2). */
export function parseGenUrlAuthArgs(args: ImapArg[]): { requests: GenUrlAuthRequest[] } | { invalid: string } {
  const requests: GenUrlAuthRequest[] = [];
  for (let i = 0; i < args.length; i += 2) {
    const url = argToAstring(args[i]);
    const mechanism = argToAtom(args[i + 1]);
    if (url === null || mechanism === null) return { invalid: INVALID };
    requests.push({ url, mechanism });
  }
  return { requests };
}

/** RESETKEY [mailbox [mechanism ...]] (RFC 4467 §6.1); mechanisms as astrings, as Dovecot reads them. */
export function parseResetKeyArgs(args: ImapArg[], options: ParseOptions): { mailbox: string | null; mechanisms: string[] } | { invalid: string } {
  if (args.length === 0) return { mailbox: null, mechanisms: [] };
  const wire = argToAstring(args[0]);
  if (wire === null) return { invalid: INVALID };
  let mailbox: string;
  try {
    mailbox = decodeMailbox(wire, options);
  } catch {
    return { invalid: INVALID };
  }
  const mechanisms: string[] = [];
  for (const arg of args.slice(1)) {
    const mech = argToAstring(arg);
    if (mech === null) return { invalid: INVALID };
    mechanisms.push(mech);
  }
  return { mailbox, mechanisms };
}

/**
 * URLFETCH url ... (RFC 4467 §6.3) where each url may be RFC 5524's `(url param ...)` with the
 * parameters BODY, BINARY and BODYPARTSTRUCTURE (texts from Dovecot's cmd-urlfetch.c).
 */
export function parseUrlFetchArgs(args: ImapArg[]): { requests: UrlFetchRequest[] } | { invalid: string } {
  if (args.length === 0) return { invalid: INVALID };
  const requests: UrlFetchRequest[] = [];
  for (const arg of args) {
    if (arg.type !== 'list') {
      const url = argToAstring(arg);
      if (url === null) return { invalid: INVALID };
      requests.push({ url, extended: false, body: true, binary: false, bodyPartStructure: false });
      continue;
    }
    const url = argToAstring(arg.items[0]);
    if (url === null) return { invalid: INVALID };
    const req: UrlFetchRequest = { url, extended: true, body: false, binary: false, bodyPartStructure: false };
    for (const p of arg.items.slice(1)) {
      const param = argToAtom(p);
      if (param === null) return { invalid: 'Invalid URL fetch parameter' };
      switch (param.toUpperCase()) {
        case 'BODY': req.body = true; break;
        case 'BINARY': req.binary = true; break;
        case 'BODYPARTSTRUCTURE': req.bodyPartStructure = true; break;
        default: return { invalid: `Unknown URL fetch parameter: ${param}` };
      }
    }
    if (req.body && req.binary) return { invalid: 'URL cannot have both BODY and BINARY fetch parameters' };
    // Dovecot: `(url)` with no parameter asks for BODY.
    if (!req.body && !req.binary && !req.bodyPartStructure) req.body = true;
    requests.push(req);
  }
  return { requests };
}
