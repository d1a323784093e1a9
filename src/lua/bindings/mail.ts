// The `struct mail` Lua object (spec §9). No Dovecot 2.3 API hands one to a script; it exists for
// completeness (hook argument `{ $binding: 'mail', data: MailArgData }`).
// Dovecot: src/lib-storage/mail-storage-lua.c (mail part).
import type { LuaBindingContext } from '../binding.js';
import { luaChunk } from '../lua-chunks.js';

export interface MailArgData {
  /** vname of the mail's mailbox. */
  mailbox: string;
  uid: number;
  seq: number;
  expunged: boolean;
}


/** Prepares `struct mail` (loaded by the mail_user binding's `mail` maker on first use). */
export function installMail(ctx: LuaBindingContext): void {
  ctx.defineLazy('mail', luaChunk('mail.lua'));
}
