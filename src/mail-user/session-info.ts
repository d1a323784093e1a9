// One session as `roost who` lists it (doveadm who's fields, and Roost's session id and age):
// protocol servers describe their sessions this way, the admin channel filters and prints them.
export interface MailSessionInfo {
  username: string;
  /** `imap`, `lmtp`, or the service of another mail user session (e.g. `quota-status`). */
  service: string;
  /** '' where Dovecot shows none: an LMTP recipient (anvil's ident is `lmtp/<user>`, without IP). */
  remoteIp: string;
  sessionId: string;
  /** Since when (ms since the epoch): the connection for IMAP, the accepted RCPT for LMTP. */
  connectedAt: number;
}
