// Turning a command's sequence set into messages of the selected view: the RFC 3501 §9 range check
// for sequence numbers (Dovecot: BAD "Invalid messageset") and RFC 5182 `$` (the saved SEARCH result).
import { INVALID_MESSAGESET, sequenceSetFitsMessageCount, type SequenceSet } from '../protocol/index.js';
import type { MessageRef } from '../selected-mailbox.js';
import type { CommandContext } from './context.js';

export type ResolvedSet = { ok: true; messages: MessageRef[] } | { ok: false; error: string };

export function resolveMessageSet(session: CommandContext, set: SequenceSet, uid: boolean): ResolvedSet {
  const view = session.selected!;
  if (set.kind === 'saved') {
    // `$` always names UIDs saved by SEARCH RETURN (SAVE); those expunged since are skipped.
    const messages: MessageRef[] = [];
    for (const u of session.savedSearch ?? []) {
      const seq = view.seqOf(u);
      if (seq > 0) messages.push({ seq, uid: u });
    }
    return { ok: true, messages };
  }
  if (!uid && !sequenceSetFitsMessageCount(set, view.count)) return { ok: false, error: INVALID_MESSAGESET };
  return { ok: true, messages: view.resolve(set, uid) };
}
