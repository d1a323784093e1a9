// The mail-user variable table for var_expand (spec §7.4): mail_home, Lua's user:var_expand and
// plugin settings all expand through here.
import { mailUserVarTable, varExpand } from '../config/var-expand.js';

/** What a mail user exposes to %-expansion. */
export interface MailUserVariableSource {
  readonly username: string;
  readonly service: string;
  readonly sessionId: string | null;
  readonly localIp: string;
  readonly remoteIp: string;
  readonly authUser: string;
  readonly userdbFields: Record<string, string>;
  readonly settings: { hostname: string };
  readonly home?: string;
  readonly uid?: number;
  readonly gid?: number;
}

export function expandMailUserTemplate(
  template: string,
  u: MailUserVariableSource,
  opts: { skipHome?: boolean } = {},
): string {
  const ctx = mailUserVarTable({
    user: u.username,
    service: u.service,
    // While the home itself is being expanded it is not known yet (Dovecot: %h is empty there).
    home: opts.skipHome ? null : (u.home ?? null),
    localIp: u.localIp || null,
    remoteIp: u.remoteIp || null,
    pid: process.pid,
    uid: u.uid ?? null,
    gid: u.gid ?? null,
    session: u.sessionId,
    authUser: u.authUser,
    hostname: u.settings.hostname,
    userdbFields: u.userdbFields,
  });
  return varExpand(template, ctx);
}
