// The `struct mail_user` Lua object (spec §7) and the binding module that installs the storage
// objects of a mail context (mail_user, mailbox, mail) into a state. Runs in the Lua worker:
// var_expand and storage calls happen synchronously there. Hook argument:
// `{ $binding: 'mail_user', data: MailUserArgData }`.
// Dovecot: src/lib-storage/mail-user-lua.c, src/plugins/mail-lua.
import { LuaMultiReturn } from 'wasmoon';
import { varExpand } from '../../config/var-expand.js';
import type { LuaBindingContext, LuaBindingModule } from '../binding.js';
import { luaChunk } from '../lua-chunks.js';
import { installMail } from './mail.js';
import { installMailbox } from './mailbox.js';
import type { MailUserBindingData } from './mail-user-data.js';
import { StorageHost } from './storage-host.js';

export type { MailUserArgData, MailUserBindingData } from './mail-user-data.js';


export const binding: LuaBindingModule = {
  name: 'mail_user',
  install(ctx: LuaBindingContext, raw: unknown): void {
    const data = raw as MailUserBindingData;
    const store = new StorageHost(data.store, { admin: data.serverAdmin, comment: data.serverComment });
    installMailbox(ctx, store);
    installMail(ctx);
    const host = {
      var_expand: (template: string) => {
        try {
          return LuaMultiReturn.from(['', varExpand(template, data.varTable)]) as LuaMultiReturn;
        } catch (e) {
          return LuaMultiReturn.from([e instanceof Error ? e.message : String(e)]) as LuaMultiReturn;
        }
      },
    };
    ctx.runLua(luaChunk('mail-user.lua'), host, {
      fields: { ...data.fields },
      pluginEnv: data.pluginEnv,
      separator: 'error' in data.store ? '/' : data.store.separator,
    } as unknown as Parameters<LuaBindingContext['runLua']>[2]);
  },
};
