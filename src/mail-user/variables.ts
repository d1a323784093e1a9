// The mail-user variable table for var_expand (spec §7.4): mail_home, Lua's user:var_expand and
// plugin settings all expand through here.
import { mailUserVarTable, varExpand, type VarExpandContext } from '../config/var-expand.js';

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
  return varExpand(template, mailUserVarContext(u, opts));
}

/** The variable table itself (plain data: the Lua worker expands `user:var_expand` with it). */
export function mailUserVarContext(u: MailUserVariableSource, opts: { skipHome?: boolean } = {}): VarExpandContext {
  return mailUserVarTable({
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
}
