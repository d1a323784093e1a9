// RFC 5322 address lists as Dovecot's lib-mail/message-address.c reads them for ENVELOPE:
// groups become a start marker (mailbox = group name) and an end marker (all NIL), a comment
// stands in for the missing display name of a bare addr-spec, encoded words are kept raw. Binary strings in and out.

export interface EnvelopeAddress {
  name: string | null;
  route: string | null;
  mailbox: string | null;
  domain: string | null;
}

class AddressLexer {
  pos = 0;
  /** Last comment text seen (used as the name of a bare addr-spec). */
  lastComment: string | null = null;
  constructor(readonly s: string) {}

  skipWs(): void {
    for (;;) {
      const c = this.s[this.pos];
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') this.pos++;
      else if (c === '(') this.lastComment = this.comment();
      else return;
    }
  }

  private comment(): string {
    let depth = 0;
    let out = '';
    while (this.pos < this.s.length) {
      const c = this.s[this.pos++]!;
      if (c === '\\' && this.pos < this.s.length) { out += this.s[this.pos++]; continue; }
      if (c === '(') { if (depth++ > 0) out += c; continue; }
      if (c === ')') { if (--depth === 0) return out; out += c; continue; }
      out += c;
    }
    return out;
  }

  peek(): string | undefined { return this.s[this.pos]; }
  eof(): boolean { return this.pos >= this.s.length; }

  quoted(): string {
    this.pos++;
    let out = '';
    while (this.pos < this.s.length) {
      const c = this.s[this.pos++]!;
      if (c === '"') return out;
      if (c === '\\' && this.pos < this.s.length) out += this.s[this.pos++];
      else out += c;
    }
    return out;
  }

  atom(specials: string): string {
    const start = this.pos;
    while (this.pos < this.s.length) {
      const c = this.s[this.pos]!;
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n' || specials.includes(c)) break;
      this.pos++;
    }
    return this.s.slice(start, this.pos);
  }

  /** A phrase: words (atoms or quoted strings, dots allowed) joined by single spaces. */
  phrase(stop: string): string {
    const words: string[] = [];
    for (;;) {
      this.skipWs();
      const c = this.peek();
      if (c === undefined || stop.includes(c)) break;
      if (c === '"') words.push(this.quoted());
      else {
        const a = this.atom('()<>[]:;@\\,"' );
        if (a === '') { this.pos++; continue; }
        words.push(a);
      }
    }
    return words.join(' ');
  }

  /** local-part [@ domain] until one of `stop`. */
  addrSpec(stop: string): { mailbox: string; domain: string | null } {
    let mailbox = '';
    for (;;) {
      this.skipWs();
      const c = this.peek();
      if (c === undefined || c === '@' || stop.includes(c)) break;
      if (c === '"') mailbox += '"' + this.quoted() + '"';
      else if (c === '.') { mailbox += '.'; this.pos++; }
      else { const a = this.atom('()<>[]:;@\\,".'); if (a === '') { this.pos++; continue; } mailbox += a; }
    }
    if (this.peek() !== '@') return { mailbox, domain: null };
    this.pos++;
    let domain = '';
    for (;;) {
      this.skipWs();
      const c = this.peek();
      if (c === undefined || stop.includes(c)) break;
      if (c === '[') { const end = this.s.indexOf(']', this.pos); const e = end < 0 ? this.s.length : end + 1; domain += this.s.slice(this.pos, e); this.pos = e; }
      else if (c === '.') { domain += '.'; this.pos++; }
      else { const a = this.atom('()<>[]:;@\\,".'); if (a === '') { this.pos++; continue; } domain += a; }
    }
    return { mailbox, domain };
  }
}

// Dovecot's fill_missing placeholders for an address without mailbox or domain.
const MISSING_MAILBOX = 'MISSING_MAILBOX';
const MISSING_DOMAIN = 'MISSING_DOMAIN';

/** Parses an address-list header value into ENVELOPE address entries. Never throws. */
export function parseAddressList(value: string): EnvelopeAddress[] {
  const lx = new AddressLexer(value);
  const out: EnvelopeAddress[] = [];
  let inGroup = false;
  while (!lx.eof()) {
    lx.skipWs();
    const c = lx.peek();
    if (c === undefined) break;
    if (c === ',') { lx.pos++; continue; }
    if (c === ';' && inGroup) {
      lx.pos++;
      out.push({ name: null, route: null, mailbox: null, domain: null });
      inGroup = false;
      continue;
    }
    lx.lastComment = null;
    const start = lx.pos;
    const phrase = lx.phrase('<:,;@');
    const next = lx.peek();
    if (next === ':' && !inGroup) {
      lx.pos++;
      out.push({ name: null, route: null, mailbox: phrase, domain: null });
      inGroup = true;
      continue;
    }
    if (next === '<') {
      lx.pos++;
      let route: string | null = null;
      lx.skipWs();
      if (lx.peek() === '@') {
        const colon = value.indexOf(':', lx.pos);
        const close = value.indexOf('>', lx.pos);
        if (colon >= 0 && (close < 0 || colon < close)) {
          route = value.slice(lx.pos, colon).replace(/\s+/g, '');
          lx.pos = colon + 1;
        }
      }
      const spec = lx.addrSpec('>,;');
      if (lx.peek() === '>') lx.pos++;
      // A comment never names a name-addr (Dovecot: `(c) <a@b>` and `<a (c)@b>` have a NIL name).
      out.push(makeAddress(phrase !== '' ? phrase : null, route, spec.mailbox, spec.domain));
      continue;
    }
    // a bare addr-spec: re-read from the start as local@domain
    lx.pos = start;
    lx.lastComment = null;
    const spec = lx.addrSpec(',;' + (inGroup ? '' : ''));
    lx.skipWs();
    out.push(makeAddress(lx.lastComment, null, spec.mailbox, spec.domain));
    // A `;` outside a group is stray: step over it too, or the loop would never advance.
    if (lx.peek() !== undefined && lx.peek() !== ',' && (lx.peek() !== ';' || !inGroup)) lx.pos++;
  }
  if (inGroup) out.push({ name: null, route: null, mailbox: null, domain: null });
  return out;
}

function makeAddress(name: string | null, route: string | null, mailbox: string, domain: string | null): EnvelopeAddress {
  return {
    name: name === null || name === '' ? null : name,
    route,
    mailbox: mailbox === '' ? MISSING_MAILBOX : mailbox,
    domain: domain === null || domain === '' ? MISSING_DOMAIN : domain,
  };
}

// RFC 5322 §3.2.3 atext; bytes above 127 count as atext too (Dovecot's rfc822_atext_chars).
const ATEXT = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\x80-\xff]+$/;

/** Dovecot's str_append_maybe_escape(): as is when all atext, else quoted with `"` and `\` escaped. */
function maybeQuote(s: string, quoteDquote: boolean): string {
  const plain = quoteDquote ? ATEXT.test(s) : /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\x80-\xff".]+$/.test(s);
  if (plain) return s;
  return `"${s.replace(/["\\]/g, (c) => '\\' + c)}"`;
}

/**
 * The address list rewritten in one standard form, which SEARCH FROM/TO/CC/BCC match against (as
 * Dovecot 2.3.19's index-search.c does with message_address_write, checked against a running
 * Dovecot): every mailbox as `[name ]<[@route:]local@domain>`, a name quoted unless it is all atext
 * or carries an encoded word, comments gone unless one stands in for a missing name, groups as
 * `name: a, b;`, missing parts filled with MISSING_MAILBOX / MISSING_DOMAIN, `, ` between entries.
 */
export function formatAddressesForSearch(list: readonly EnvelopeAddress[]): string {
  let out = '';
  let first = true;
  let inGroup = false;
  for (const a of list) {
    if (!first) out += ', ';
    first = false;
    if (a.domain === null) {
      if (!inGroup) {
        const name = a.mailbox ?? '';
        out += name === '' ? '""' : name.includes('=?') ? name : maybeQuote(name, true);
        out += ': ';
        first = true;
      } else {
        // End of group: `a, b` + `;`, or an empty group `name:;`.
        out = out.endsWith(', ') ? out.slice(0, -2) : out.endsWith(': ') ? out.slice(0, -1) : out;
        out += ';';
      }
      inGroup = !inGroup;
      continue;
    }
    if (a.name !== null) out += (a.name.includes('=?') ? a.name : maybeQuote(a.name, true)) + ' ';
    out += '<' + (a.route !== null ? a.route + ':' : '') + a.mailbox + '@' + a.domain + '>';
  }
  return out;
}
