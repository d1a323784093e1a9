// Every IMAP command's handler, by command name (the parser's ImapCommand['name']).
import { CAPABILITY, ENABLE, ID, LOGOUT, NOOP, UNAUTHENTICATE } from './any-state.js';
import { APPEND } from './append.js';
import { GENURLAUTH, RESETKEY, URLFETCH } from './urlauth.js';
import { COMPRESS } from './compress.js';
import { COPY, MOVE } from './copy-move.js';
import { FETCH } from './fetch.js';
import { IDLE } from './idle.js';
import { LIST, LSUB } from './list.js';
import { AUTHENTICATE, LOGIN, STARTTLS } from './login.js';
import { CREATE, DELETE, NAMESPACE, RENAME, STATUS, SUBSCRIBE, UNSUBSCRIBE } from './mailboxes.js';
import { GETMETADATA, SETMETADATA } from './metadata.js';
import { SEARCH } from './search.js';
import { CHECK, CLOSE, EXAMINE, EXPUNGE, SELECT, UNSELECT } from './select.js';
import { REPLACE } from './replace.js';
import { SORT } from './sort.js';
import { GETQUOTA, GETQUOTAROOT, SETQUOTA } from './quota.js';
import { STORE } from './store.js';
import { THREAD } from './thread.js';
import { qresyncHooks } from './qresync.js';
import { imap4rev2Hooks } from './imap4rev2.js';
import { CANCELUPDATE, contextSearchHooks } from './context-search.js';
import { NOTIFY, notifyHooks } from './notify.js';
import type { CommandContext, SessionHooks } from './context.js';
import type { HandlerTable } from './types.js';

export const HANDLERS: HandlerTable = {
  CAPABILITY, NOOP, LOGOUT, ID, ENABLE,
  STARTTLS, LOGIN, AUTHENTICATE,
  SELECT, EXAMINE, CHECK, CLOSE, UNSELECT, EXPUNGE,
  CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, NAMESPACE, STATUS,
  LIST, LSUB,
  APPEND, FETCH, STORE, SEARCH, COPY, MOVE, IDLE,
  GETMETADATA, SETMETADATA,
  COMPRESS, SORT, THREAD, UNAUTHENTICATE, CANCELUPDATE, REPLACE,
  GETQUOTAROOT, GETQUOTA, SETQUOTA,
  GENURLAUTH, RESETKEY, URLFETCH,
  NOTIFY,
};

/** Extensions that follow the whole session: each gives the hooks it attaches to a new session. */
export const SESSION_HOOKS: ReadonlyArray<(session: CommandContext) => SessionHooks> = [qresyncHooks, contextSearchHooks, imap4rev2Hooks, notifyHooks];
