// StorageSettings as every backend checks them (a backend's own settings are checked by it).
import { DEFAULT_STORAGE_SETTINGS, StorageError, type StorageSettings } from './types.js';

/** Settings that may be 0 (off); every other number must be at least 1. */
const ZERO_ALLOWED = new Set(['bodyFileThresholdBytes', 'indexRetainMessages']);

/**
 * PARAMETERS unless every numeric setting of `s` is a whole number in range: at least 1 (0 for
 * those that 0 turns off, and `zeroAllowed`), and bodyChunkBytes between 1 KiB and 64 MiB.
 * Keys in `skip` are the caller's to check.
 */
export function checkStorageSettings(s: object, opts: { skip?: string[]; zeroAllowed?: string[] } = {}): void {
  for (const [key, value] of Object.entries(s)) {
    if (opts.skip?.includes(key)) continue;
    const min = ZERO_ALLOWED.has(key) || opts.zeroAllowed?.includes(key) ? 0 : 1;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      throw new StorageError('PARAMETERS', `Storage setting ${key} must be a positive integer, got ${String(value)}`);
    }
  }
  const chunk = (s as Partial<StorageSettings>).bodyChunkBytes;
  if (chunk !== undefined && (chunk < 1024 || chunk > 64 * 1024 * 1024)) {
    throw new StorageError('PARAMETERS', 'Storage setting bodyChunkBytes must be between 1 KiB and 64 MiB');
  }
}

/** The defaults with `partial` over them, checked. */
export function resolveStorageSettings(partial: Partial<StorageSettings> | undefined): StorageSettings {
  const s: StorageSettings = { ...DEFAULT_STORAGE_SETTINGS, ...partial };
  checkStorageSettings(s);
  return s;
}
