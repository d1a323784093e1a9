// The `struct mailbox` Lua object (spec §8): raw fields vname/name/item, open/close/free/sync,
// status with Dovecot's table shape and float numbers, mailbox metadata. Written in Lua so the
// argument checks and error positions are those of Lua C functions (see src/lua/chunks/prelude.lua).
// Dovecot: src/lib-storage/mail-storage-lua.c (mailbox part).
import { LUA_REGISTRYINDEX } from 'wasmoon';
import type { LuaBindingContext } from '../binding.js';
import { luaChunk } from '../lua-chunks.js';
import type { StorageHost } from './storage-host.js';

/** Registry slot through which the shared `item` userdata reaches the Lua chunks (mail-user.lua reads it by this name). */
const HANDLE_REGISTRY_KEY = 'roost.storage.handle';


/**
 * Prepares `struct mailbox`, the storage helpers and the storage methods of `struct mail_user`
 * (src/lua/chunks/mailbox.lua, loaded by the mail_user binding on first use) and the shared `item` handle.
 */
export function installMailbox(ctx: LuaBindingContext, host: StorageHost): void {
  const { lua, L } = ctx;
  lua.lua_newuserdatauv(L, 0, 0);
  lua.lua_setfield(L, LUA_REGISTRYINDEX, HANDLE_REGISTRY_KEY);
  ctx.defineLazy('storage', luaChunk('mailbox.lua'), host.functions());
}
