// Worker side of the push-notification Lua driver (spec §12.2; Dovecot:
// push-notification-driver-lua.c). Registers the entry `@push_notification_txn` that runs one
// whole push transaction inside the state — begin_txn, the handlers, end_txn — so the ctx value
// begin_txn returns stays a live Lua value (tables keep their identity between the calls) and a
// transaction costs one worker round trip. Installed in every state the driver uses: its own
// script's state, or mail-lua's when that one is reused (§12.1).
import type { LuaBindingContext, LuaBindingModule } from '../binding.js';
import { luaChunk } from '../lua-chunks.js';
import { handlerName, PUSH_EVENT_NAMES } from './events.js';


/** Event name → handler function name, the same for every state (worked out once per worker). */
const HANDLERS: Record<string, string> = Object.fromEntries(PUSH_EVENT_NAMES.map((name) => [name, handlerName(name)]));

export const binding: LuaBindingModule = {
  name: 'push_notification',
  install(ctx: LuaBindingContext): void {
    ctx.runLua(luaChunk('push-notification.lua'), {}, HANDLERS);
  },
};
