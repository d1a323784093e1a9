// URLAUTH (RFC 4467) and URLAUTH=BINARY (RFC 5524), on when `imap_urlauth_host` is set, as in
// Dovecot 2.3.19 (imap/cmd-genurlauth.c, cmd-resetkey.c, cmd-urlfetch.c, lib-imap-urlauth/).
// Each mailbox has a random 64-byte key, created by the first GENURLAUTH on it and removed by
// RESETKEY; the INTERNAL mechanism's token is 0x01 followed by HMAC-SHA1(key, rump URL), in hex.
// Dovecot hands URLs of other users to its imap-urlauth service; Roost serves them in-process,
// opening the owner's store for the command (docs/dovecot-differences.md).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { decodedBody } from '../../mime/decode.js';
import { applyPartial, findPart, parseSectionSpec, readSection } from '../../mime/section.js';
import type { MimePart } from '../../mime/types.js';
import type { UserStore } from '../../storage/types.js';
import { syncBody } from '../../storage/maybe-async.js';
import { formatBodyStructure } from '../protocol/bodystructure.js';
import type { UrlFetchRequest } from '../protocol/index.js';
import { formatAstring } from '../protocol/response-writer.js';
import { BadUrlError } from './catenate.js';
import type { CommandContext } from './context.js';
import { loadMimeStructure } from './fetch-mime.js';
import { AUTHENTICATED, badSyntax, no, ok, type CommandHandler } from './types.js';
import { parseUrlAuthUrl, type UrlAuthUrl } from './urlauth-url.js';

/**
 * Where the key lives: Dovecot's `vendor/vendor.dovecot/imap-urlauth` private attribute, moved
 * under `pvt/` so that GETMETADATA/SETMETADATA cannot read or overwrite it (Dovecot lets them).
 */
export const URLAUTH_KEY_ENTRY = '/private/vendor/vendor.dovecot/pvt/imap-urlauth';
const KEY_BYTES = 64; // IMAP_URLAUTH_KEY_LEN
const MECH_INTERNAL_VERSION = 0x01;
const DISABLED = 'URLAUTH disabled';

export function urlauthEnabled(session: Pick<CommandContext, 'settings'>): boolean {
  return session.settings.imap_urlauth_host !== '';
}

/** The mailbox's key; `create` makes one when there is none (GENURLAUTH). */
async function mailboxKey(store: UserStore, mailbox: string, create: boolean): Promise<Buffer | null> {
  const [entry] = await store.getMetadata(mailbox, [URLAUTH_KEY_ENTRY]);
  if (entry) {
    const hex = entry.value.toString('latin1');
    if (/^[0-9a-f]+$/i.test(hex) && hex.length === 2 * KEY_BYTES) return Buffer.from(hex, 'hex');
  }
  if (!create) return null;
  const key = randomBytes(KEY_BYTES);
  await store.setMetadata(mailbox, URLAUTH_KEY_ENTRY, Buffer.from(key.toString('hex'), 'latin1'));
  return key;
}

/** Removes a mailbox's key (when it has one: no change, no new modseq otherwise). */
async function removeKey(store: UserStore, mailbox: string): Promise<void> {
  if ((await store.getMetadata(mailbox, [URLAUTH_KEY_ENTRY])).length > 0) await store.setMetadata(mailbox, URLAUTH_KEY_ENTRY, null);
}

/** RFC 4467 §7 INTERNAL as Dovecot computes it: version byte 0x01, then HMAC-SHA1(key, rump URL). */
export function internalToken(rump: string, key: Buffer): Buffer {
  const mac = createHmac('sha1', key).update(rump, 'utf8').digest();
  return Buffer.concat([Buffer.from([MECH_INTERNAL_VERSION]), mac]);
}

function verifyToken(rump: string, key: Buffer, token: Buffer): boolean {
  const expected = internalToken(rump, key);
  return token.length === expected.length && timingSafeEqual(token, expected);
}

/** imap_urlauth_check_hostport: the URL names this server (`*` allows any host). */
function hostPortError(session: CommandContext, url: UrlAuthUrl): string | null {
  const host = session.settings.imap_urlauth_host;
  if (host !== '*' && url.host !== host.toLowerCase()) return 'Invalid URL: Inappropriate host name';
  if ((url.port ?? 143) !== session.settings.imap_urlauth_port) return 'Invalid URL: Inappropriate server port';
  return null;
}

class UrlFailure extends Error {}

/** GENURLAUTH: verifies one rump URL and returns it with its token (imap_urlauth_generate). */
async function generate(session: CommandContext, rumpUrl: string, mechanism: string): Promise<string> {
  if (mechanism.toUpperCase() !== 'INTERNAL') throw new UrlFailure(`Unsupported URLAUTH mechanism: ${mechanism}`);
  let url: UrlAuthUrl;
  try {
    url = parseUrlAuthUrl(rumpUrl);
  } catch (err) {
    if (err instanceof BadUrlError) throw new UrlFailure(`Invalid URL: ${err.message.replace(/^Invalid IMAP URL: /, '')}`);
    throw err;
  }
  if (url.rump === null || url.mechanism !== null) throw new UrlFailure('Invalid URL: Must be an URLAUTH rump URL');
  if (url.expire !== null && Date.now() > url.expire) throw new UrlFailure('URLAUTH has already expired');
  if (url.user === null) throw new UrlFailure('Invalid URL: Missing user name');
  if (url.user !== session.user!.username) throw new UrlFailure(`Not permitted to generate URLAUTH for user ${url.user}`);
  const hostErr = hostPortError(session, url);
  if (hostErr) throw new UrlFailure(hostErr);
  const box = await session.store.getMailbox(url.message.mailbox);
  if (!box || box.noselect) throw new UrlFailure(`Invalid URL: Mailbox doesn't exist: ${url.message.mailbox}`);
  if (url.message.uidValidity !== null && url.message.uidValidity !== box.uidValidity) throw new UrlFailure('Invalid URL: Invalid UIDVALIDITY');
  if (!(await session.store.getMessages(box.id, [url.message.uid]))[0]) throw new UrlFailure('Invalid URL: Message not found');
  const key = (await mailboxKey(session.store, box.name, true))!;
  return `${rumpUrl}:internal:${internalToken(url.rump, key).toString('hex')}`;
}

export const GENURLAUTH: CommandHandler<'GENURLAUTH'> = {
  states: AUTHENTICATED,
  async run(session, _tag, cmd) {
    if (!urlauthEnabled(session)) return badSyntax(DISABLED);
    if ('invalid' in cmd.args) return badSyntax(cmd.args.invalid);
    const urls: string[] = [];
    for (const req of cmd.args.requests) {
      try {
        urls.push(await generate(session, req.url, req.mechanism));
      } catch (err) {
        if (err instanceof UrlFailure) return badSyntax(err.message);
        throw err;
      }
    }
    session.respond(`* GENURLAUTH${urls.map((u) => ` ${formatAstring(u)}`).join('')}\r\n`);
    return ok('GENURLAUTH completed');
  },
};

export const RESETKEY: CommandHandler<'RESETKEY'> = {
  states: AUTHENTICATED,
  async run(session, _tag, cmd) {
    if (!urlauthEnabled(session)) return badSyntax(DISABLED);
    if ('invalid' in cmd.args) return badSyntax(cmd.args.invalid);
    const { mailbox, mechanisms } = cmd.args;
    if (mailbox === null) {
      for (const box of await session.store.listMailboxes()) {
        if (!box.noselect) await removeKey(session.store, box.name);
      }
      return ok('All keys removed');
    }
    if (mechanisms.some((m) => m.toUpperCase() !== 'INTERNAL')) return no('Unsupported URLAUTH mechanism');
    const box = await session.store.getMailbox(mailbox);
    if (!box || box.noselect) return no(`Mailbox doesn't exist: ${mailbox}`, 'NONEXISTENT');
    await removeKey(session.store, box.name);
    // RFC 4467 §6.1 also asks for an untagged URLMECH OK in sessions that have the mailbox
    // selected; Dovecot 2.3.19 does not send it either.
    return ok('Key removed', 'URLMECH INTERNAL');
  },
};

interface FetchedUrl {
  bytes: Buffer | null;
  bodyPartStructure: string | null;
}

/**
 * imap_urlauth_check_access. The owner's own session (Dovecot's imap process) may fetch
 * `user+<anyone>`, `authuser` and `anonymous` URLs. Another user (Dovecot's imap-urlauth worker,
 * with the fetching user as access user) needs `user+<self>`, `authuser` or `anonymous`; the
 * `imap_urlauth_submit_user` also `submit+<someone>`.
 */
function accessError(session: CommandContext, url: UrlAuthUrl): string | null {
  const me = session.user!.username;
  const { application, user } = url.access!;
  const app = application.toLowerCase();
  const own = url.user === me;
  if (app === 'authuser' || app === 'anonymous') return null;
  if (app === 'user' && user !== null && (own || user.toLowerCase() === me.toLowerCase())) return null;
  if (!own && app === 'submit' && user !== null && session.settings.imap_urlauth_submit_user === me) return null;
  return `No '${application}${user === null ? '' : `+${user}`}' access allowed for user ${me}`;
}

/** The checks of imap_urlauth_fetch_parsed, then the part; a UrlFailure becomes NIL. */
async function fetchOne(session: CommandContext, req: UrlFetchRequest): Promise<FetchedUrl> {
  let url: UrlAuthUrl;
  try {
    url = parseUrlAuthUrl(req.url);
  } catch (err) {
    if (err instanceof BadUrlError) throw new UrlFailure(err.message);
    throw err;
  }
  if (url.rump === null || url.mechanism === null || url.token === null) throw new UrlFailure('Invalid URL: Must be a full URLAUTH URL');
  if (url.user === null) throw new UrlFailure('Invalid URLAUTH: Missing user name');
  if (url.mechanism.toUpperCase() !== 'INTERNAL') throw new UrlFailure(`Unsupported URLAUTH mechanism: ${url.mechanism}`);
  if (url.expire !== null && Date.now() > url.expire) throw new UrlFailure('URLAUTH has expired');
  const accessErr = accessError(session, url);
  if (accessErr) throw new UrlFailure(accessErr);
  const hostErr = hostPortError(session, url);
  if (hostErr) throw new UrlFailure(hostErr);
  let fetched: FetchedUrl | null;
  try {
    fetched = await session.withUserStore(url.user, (store) => readVerified(store, req, url));
  } catch (err) {
    if (err instanceof UrlFailure) throw err;
    // The owner's mail user could not be set up (userdb down, a failing mail_user_created hook).
    session.log.error(`URLFETCH: opening ${url.user}'s mailboxes failed: ${err instanceof Error ? err.message : String(err)}`);
    throw new UrlFailure('Internal server error');
  }
  // An unknown owner fails like an unknown mailbox, after the same token work (RFC 4467 §7).
  if (fetched === null) {
    verifyToken(url.rump, randomBytes(KEY_BYTES), url.token);
    throw new UrlFailure('URLAUTH verification failed');
  }
  return fetched;
}

/** In the owner's store: the mailbox, its key and the token, then the part the URL names. */
async function readVerified(store: UserStore, req: UrlFetchRequest, url: UrlAuthUrl): Promise<FetchedUrl> {
  const rump = url.rump!;
  const token = url.token!;
  const box = await store.getMailbox(url.message.mailbox);
  if (!box || box.noselect) {
    // RFC 4467 §7: compute a token with a random key anyway, so timing does not tell which mailboxes exist.
    verifyToken(rump, randomBytes(KEY_BYTES), token);
    throw new UrlFailure(`Invalid URLAUTH: Mailbox doesn't exist: ${url.message.mailbox}`);
  }
  const key = await mailboxKey(store, box.name, false);
  if (!key || !verifyToken(rump, key, token)) throw new UrlFailure('URLAUTH verification failed');
  const readFailure = (why: string) => new UrlFailure(`Failed to read URLAUTH "${req.url}": ${why}`);
  if (url.message.uidValidity !== null && url.message.uidValidity !== box.uidValidity) throw readFailure('Invalid UIDVALIDITY');
  const meta = (await store.getMessages(box.id, [url.message.uid]))[0];
  if (!meta) throw readFailure('Message not found');
  const spec = parseSectionSpec(url.message.section ?? '');
  if (!spec) throw readFailure('Invalid section');
  const reader = await store.openBody(meta.bodyId);
  const root = await loadMimeStructure(store, meta, reader);
  const body = await syncBody(reader);
  const part: MimePart | null = spec.path.length === 0 ? root : findPart(root, spec.path);
  if (!part) throw readFailure('Message part not found');
  // RFC 5524 §4: BINARY undoes the Content-Transfer-Encoding of a leaf part.
  const decode = req.binary && spec.kind === 'full' && spec.path.length > 0 && !part.children && !part.message;
  let bytes: Buffer | null = null;
  if (req.body || req.binary) {
    bytes = decode ? decodedBody(body, part) : readSection(body, root, spec);
    if (url.message.partial) bytes = applyPartial(bytes, url.message.partial.offset, url.message.partial.length);
  }
  let bodyPartStructure: string | null = null;
  if (req.bodyPartStructure) {
    // With BINARY, Dovecot reports the decoded size in the part's structure.
    const shown = decode && bytes ? { ...part, body: { ...part.body, virtual: bytes.length } } : part;
    bodyPartStructure = formatBodyStructure(shown, true);
  }
  return { bytes, bodyPartStructure };
}

function fetchResponse(req: UrlFetchRequest, got: FetchedUrl): Buffer {
  const head = `* URLFETCH ${formatAstring(req.url)}`;
  const bytes = got.bytes ?? Buffer.alloc(0);
  if (!req.extended) return Buffer.concat([Buffer.from(`${head} {${bytes.length}}\r\n`, 'latin1'), bytes, Buffer.from('\r\n')]);
  const items: string[] = [];
  if (got.bodyPartStructure !== null) items.push(`BODYPARTSTRUCTURE ${got.bodyPartStructure}`);
  if (!req.body && !req.binary) return Buffer.from(`${head} (${items.join(' ')})\r\n`, 'latin1');
  // RFC 3516 literal8 when the decoded data holds NUL bytes.
  const name = req.body ? 'BODY' : 'BINARY';
  const literal = req.binary && bytes.includes(0) ? `~{${bytes.length}}` : `{${bytes.length}}`;
  items.push(`${name} ${literal}`);
  return Buffer.concat([Buffer.from(`${head} (${items.join(' ')}\r\n`, 'latin1'), bytes, Buffer.from(')\r\n')]);
}

export const URLFETCH: CommandHandler<'URLFETCH'> = {
  states: AUTHENTICATED,
  async run(session, _tag, cmd) {
    if (!urlauthEnabled(session)) return badSyntax(DISABLED);
    if ('invalid' in cmd.args) return badSyntax(cmd.args.invalid);
    const sink = session.responseSink();
    for (const req of cmd.args.requests) {
      let out: Buffer;
      try {
        out = fetchResponse(req, await fetchOne(session, req));
      } catch (err) {
        if (!(err instanceof UrlFailure)) throw err;
        // RFC 4467 §6.3: a URL that cannot be fetched is NIL; Dovecot adds why in an untagged NO.
        const why = err.message.startsWith('Failed to read URLAUTH') ? err.message : `Failed to fetch URLAUTH "${req.url}": ${err.message}`;
        out = Buffer.from(`* URLFETCH ${formatAstring(req.url)} NIL\r\n* NO ${why}.\r\n`, 'utf8');
      }
      if ((await sink.write(out)) === false) await sink.waitForDrain();
    }
    return ok('URLFETCH completed');
  },
};
