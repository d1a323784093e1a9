// Postfix's policy delegation protocol (https://www.postfix.org/SMTPD_POLICY_README.html): the MTA
// sends `name=value` lines ended by an empty line, the server answers `action=<what>` and an
// empty line; one connection carries many requests. Only the attributes quota-status reads are
// kept (Dovecot's plugins/quota/quota-status.c): recipient, size and protocol_state.

export interface PolicyRequest {
  /** The first `recipient=` attribute without its angle brackets, '' when there was none. */
  recipient: string;
  /** `size=`, 0 when absent or not a number (str_to_uoff failure = 0). */
  size: number;
  /** `protocol_state=` (RCPT, END-OF-MESSAGE, ...), '' when absent. */
  protocolState: string;
}

/** Collects one request's attribute lines. */
export class PolicyRequestReader {
  private recipient: string | undefined;
  private size = 0;
  private protocolState = '';

  /**
   * Feeds one line; returns the finished request on the empty line that ends it, or an error for
   * a malformed first `recipient=` (Dovecot drops such a client).
   */
  line(line: string): PolicyRequest | { error: string } | undefined {
    if (line === '') {
      const request = { recipient: this.recipient ?? '', size: this.size, protocolState: this.protocolState };
      this.recipient = undefined;
      this.size = 0;
      this.protocolState = '';
      return request;
    }
    if (this.recipient === undefined && line.startsWith('recipient=')) {
      const address = parseRecipientAddress(line.slice(10));
      if (address === undefined) return { error: `Client sent invalid recipient address: ${line.slice(10, 200)}` };
      this.recipient = address;
    }
    else if (line.startsWith('size=')) this.size = /^\d+$/.test(line.slice(5)) ? Number(line.slice(5)) : 0;
    else if (line.startsWith('protocol_state=')) this.protocolState = line.slice(15);
    return undefined;
  }
}

export function actionReply(action: string): string {
  return `action=${action}\n\n`;
}

/** `<user@domain>` or `user@domain` (SMTP_ADDRESS_PARSE_FLAG_BRACKETS_OPTIONAL); undefined if malformed. */
export function parseRecipientAddress(value: string): string | undefined {
  const v = value.startsWith('<') && value.endsWith('>') ? value.slice(1, -1) : value;
  if (v === '' || /[\s<>]/.test(v) || v.startsWith('@') || v.endsWith('@')) return undefined;
  return v;
}
