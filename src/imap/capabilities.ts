// The CAPABILITY lists, modelled on Dovecot 2.3's (imap-login before login, imap after), listing
// only what Roost implements. `imap_capability` replaces the post-login list (or extends it with a
// leading `+`), as in Dovecot.

export interface PreLoginCapabilityInput {
  /** STARTTLS offered: TLS available and the connection not yet encrypted. */
  starttls: boolean;
  /** Plaintext auth refused here (disable_plaintext_auth on an insecure connection). */
  loginDisabled: boolean;
  /** SASL mechanisms offered (upper case). */
  mechanisms: string[];
  literalMinus: boolean;
}

export function preLoginCapabilities(input: PreLoginCapabilityInput): string[] {
  const caps = ['IMAP4rev1', 'IMAP4rev2', 'SASL-IR', 'LOGIN-REFERRALS', 'ID', 'ENABLE', 'IDLE', input.literalMinus ? 'LITERAL-' : 'LITERAL+'];
  if (input.starttls) caps.push('STARTTLS');
  // Dovecot: with plaintext auth disabled, LOGINDISABLED and only non-plaintext mechanisms.
  if (input.loginDisabled) caps.push('LOGINDISABLED');
  for (const mech of input.mechanisms) caps.push(`AUTH=${mech}`);
  return caps;
}

export interface PostLoginCapabilityInput {
  metadata: boolean;
  /** RFC 4467 URLAUTH and RFC 5524 URLAUTH=BINARY: imap_urlauth_host is set. */
  urlauth?: boolean;
  /** RFC 7889 APPENDLIMIT=n: mail_max_message_size (0: no limit, the capability without a value). */
  appendLimit?: number;
  literalMinus: boolean;
  /** The `imap_capability` setting ('' = the built-in list). */
  override: string;
}

/** After login: every extension the command handlers implement. */
export function postLoginCapabilities(input: PostLoginCapabilityInput): string[] {
  const builtin = [
    'IMAP4rev1',
    'IMAP4rev2',
    'SASL-IR',
    'LOGIN-REFERRALS',
    'ID',
    'ENABLE',
    'IDLE',
    'SORT',
    'SORT=DISPLAY',
    'THREAD=REFERENCES',
    'THREAD=REFS',
    'THREAD=ORDEREDSUBJECT',
    'MULTIAPPEND',
    'URL-PARTIAL',
    'CATENATE',
    'UNSELECT',
    'CHILDREN',
    'NAMESPACE',
    'UIDPLUS',
    'LIST-EXTENDED',
    'CONDSTORE',
    'QRESYNC',
    'ESEARCH',
    'ESORT',
    'SEARCHRES',
    'WITHIN',
    'CONTEXT=SEARCH',
    'LIST-STATUS',
    'BINARY',
    'MOVE',
    'SNIPPET=FUZZY',
    'PREVIEW=FUZZY',
    'PREVIEW',
    'STATUS=SIZE',
    input.literalMinus ? 'LITERAL-' : 'LITERAL+',
    'NOTIFY',
    'SPECIAL-USE',
    'COMPRESS=DEFLATE',
    'QUOTA',
    'UNAUTHENTICATE',
    'SAVEDATE',
    'OBJECTID',
    'REPLACE',
    'UTF8=ACCEPT',
  ];
  if (input.appendLimit !== undefined) builtin.push(input.appendLimit > 0 ? `APPENDLIMIT=${input.appendLimit}` : 'APPENDLIMIT');
  if (input.urlauth) builtin.push('URLAUTH', 'URLAUTH=BINARY');
  if (input.metadata) builtin.push('METADATA');
  const override = input.override.trim();
  if (override === '') return builtin;
  if (override.startsWith('+')) return [...builtin, ...override.slice(1).trim().split(/\s+/).filter(Boolean)];
  return override.split(/\s+/);
}

/**
 * Extensions that ENABLE accepts (RFC 5161), upper case as parsed, with the spelling `* ENABLED`
 * answers; the rest are ignored silently.
 */
export const ENABLEABLE = new Map([
  ['CONDSTORE', 'CONDSTORE'],
  ['QRESYNC', 'QRESYNC'],
  ['UTF8=ACCEPT', 'UTF8=ACCEPT'],
  ['IMAP4REV2', 'IMAP4rev2'],
]);
