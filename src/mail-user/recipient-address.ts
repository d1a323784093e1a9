// Recipient address → userdb username and detail (Dovecot's smtp_address_detail_parse): the local
// part is cut at the first character that is one of `recipient_delimiter`'s characters.
export interface RecipientAddress {
  /** The address as given in RCPT TO (what replies and trace headers show). */
  address: string;
  /** What the userdb is asked for: local part without the detail, plus `@domain` if any. */
  username: string;
  /** The text after the delimiter, '' when there is none. */
  detail: string;
}

export function parseRecipient(address: string, recipientDelimiter: string): RecipientAddress {
  const at = address.lastIndexOf('@');
  const local = at >= 0 ? address.slice(0, at) : address;
  const domain = at >= 0 ? address.slice(at) : '';
  let cut = -1;
  if (recipientDelimiter) {
    for (let i = 0; i < local.length; i++) {
      if (recipientDelimiter.includes(local[i]!)) {
        cut = i;
        break;
      }
    }
  }
  if (cut < 0) return { address, username: address, detail: '' };
  return { address, username: local.slice(0, cut) + domain, detail: local.slice(cut + 1) };
}
