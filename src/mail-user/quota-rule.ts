// Dovecot's `quota_rule` (userdb field or plugin setting), e.g. `*:storage=1G:messages=10000`.
// Only the root rule `*` limits the whole store; per-mailbox rules (`Trash:storage=+100M`) are
// not supported and ignored. Dovecot: `storage=` without a unit is kilobytes, `bytes=` is bytes.
import type { QuotaLimits } from '../storage/types.js';

const UNIT: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

function parseAmount(value: string, defaultUnit: number): number | undefined {
  const m = /^(\d+)\s*([bkmgt])?b?$/i.exec(value.trim());
  if (!m) return undefined;
  const unit = m[2] ? UNIT[m[2].toLowerCase()]! : defaultUnit;
  return Number(m[1]) * unit;
}

/** Limits from a quota rule; undefined when there is no root rule (or it says `ignore`). */
export function quotaLimitsFromRule(rule: string | undefined): QuotaLimits | undefined {
  if (!rule) return undefined;
  const [mailbox, ...parts] = rule.split(':');
  if (mailbox !== '*') return undefined;
  const limits: QuotaLimits = {};
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq < 0) {
      if (part.trim().toLowerCase() === 'ignore') return undefined;
      continue;
    }
    const key = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1);
    if (key === 'storage') limits.storageBytes = parseAmount(value, 1024);
    else if (key === 'bytes') limits.storageBytes = parseAmount(value, 1);
    else if (key === 'messages') limits.messages = parseAmount(value, 1);
  }
  return limits;
}
