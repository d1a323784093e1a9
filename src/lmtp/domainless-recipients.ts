// Dovecot's LMTP accepts `RCPT TO:<alice>` without a domain (lib-smtp's rcpt_domain_optional),
// and Roost's own accounts are often plain names. smtp-server insists on local@domain, so the
// address parser is wrapped: a domainless recipient is parsed with a placeholder domain that is
// removed again from the result, so every other check of the library still applies.
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

const PLACEHOLDER = '@domainless.roost.invalid';

interface ParsedAddress {
  address: string;
  args: unknown;
}
type Parse = (this: unknown, name: string, command: unknown) => ParsedAddress | false;
interface PatchableConnection {
  _parseAddressCommand: Parse & { roostDomainless?: true };
}

/** Installs the domainless-RCPT wrapper once per process (idempotent). */
export function installDomainlessRecipients(): void {
  const proto = (SMTPConnection as unknown as { prototype: PatchableConnection }).prototype;
  if (proto._parseAddressCommand.roostDomainless) return;
  const original = proto._parseAddressCommand;
  const patched: PatchableConnection['_parseAddressCommand'] = function (this: unknown, name, command) {
    const text = String(command ?? '');
    const m = /^(\s*RCPT\s+TO\s*:\s*<)([^<>@\s]+)(>.*)$/is.exec(text);
    if (String(name).toLowerCase() !== 'rcpt to' || !m || m[2].toLowerCase() === 'postmaster') {
      return original.call(this, name, command);
    }
    const parsed = original.call(this, name, `${m[1]}${m[2]}${PLACEHOLDER}${m[3]}`);
    if (parsed && parsed.address.endsWith(PLACEHOLDER)) parsed.address = parsed.address.slice(0, -PLACEHOLDER.length);
    return parsed;
  };
  patched.roostDomainless = true;
  proto._parseAddressCommand = patched;
}
