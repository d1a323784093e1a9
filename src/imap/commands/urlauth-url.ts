// Absolute IMAP URLs with URLAUTH (RFC 5092 §3, RFC 4467 §3): `imap://user@host[:port]/mailbox
// [;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o.l][;EXPIRE=datetime];URLAUTH=access[:mech:token]`.
// The message part (everything after the host) goes through CATENATE's relative URL parser.
import { BadUrlError, parseMessageUrl, type MessageUrl } from './catenate.js';

export interface UrlAuthUrl {
  /** The URL's user (the mailbox owner), percent-decoded; null when the URL has none. */
  user: string | null;
  host: string;
  port: number | null;
  message: MessageUrl;
  /** RFC 4467 §3 `;EXPIRE=`, epoch ms; null when the URL never expires. */
  expire: number | null;
  /** The access identifier (`user+fred`, `submit+fred`, `authuser`, `anonymous`, ...). */
  access: { application: string; user: string | null } | null;
  /** The URL up to and including `;URLAUTH=access`: what the token authenticates. */
  rump: string | null;
  mechanism: string | null;
  token: Buffer | null;
}

/** Parses an absolute URL; throws BadUrlError with Dovecot's wording (lib-imap/imap-url.c). */
export function parseUrlAuthUrl(url: string): UrlAuthUrl {
  const m = /^imap:\/\/(?:([^@/;:]*)(?:;AUTH=[^@/]*)?@)?([^/:@]+)(?::(\d{1,5}))?(\/.*)?$/i.exec(url);
  if (!m) {
    if (!/^[a-z][a-z0-9+.-]*:/i.test(url)) throw new BadUrlError(url, 'Relative URL not allowed');
    throw new BadUrlError(url, 'Invalid IMAP URL');
  }
  let path = m[4] ?? '';
  let access: UrlAuthUrl['access'] = null;
  let rump: string | null = null;
  let mechanism: string | null = null;
  let token: Buffer | null = null;
  let expire: number | null = null;
  const auth = /;URLAUTH=([^;:/]+)(?::([^;:/]+):([^;:/]*))?$/i.exec(path);
  if (auth) {
    const [app, ...who] = auth[1]!.split('+');
    access = { application: decode(url, app!), user: who.length > 0 ? decode(url, who.join('+')) : null };
    rump = url.slice(0, url.length - path.length + auth.index + ';URLAUTH='.length + auth[1]!.length);
    if (auth[2] !== undefined) {
      mechanism = auth[2];
      const hex = auth[3]!;
      if (!/^([0-9a-f]{2})*$/i.test(hex)) throw new BadUrlError(url, 'Invalid URLAUTH token');
      if (hex.length < 32) throw new BadUrlError(url, 'Too short URLAUTH token');
      token = Buffer.from(hex, 'hex');
    }
    path = path.slice(0, auth.index);
    const exp = /;EXPIRE=([^;/]+)$/i.exec(path);
    if (exp) {
      expire = Date.parse(decode(url, exp[1]!));
      if (!/^\d{4}-\d\d-\d\dT/i.test(exp[1]!) || Number.isNaN(expire)) throw new BadUrlError(url, 'Invalid expiry date');
      path = path.slice(0, exp.index);
    }
  }
  if (path === '' || path === '/') throw new BadUrlError(url, 'Missing mailbox');
  return {
    user: m[1] === undefined || m[1] === '' ? null : decode(url, m[1]),
    host: m[2]!.toLowerCase(),
    port: m[3] === undefined ? null : Number(m[3]),
    message: parseMessageUrl(path),
    expire, access, rump, mechanism, token,
  };
}

function decode(url: string, text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new BadUrlError(url, 'Invalid %-encoding');
  }
}
