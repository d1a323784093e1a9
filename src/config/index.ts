// The configuration layer: Dovecot-syntax config files into typed Settings, and `%` expansion.
export { ConfigError } from './errors.js';
export { loadConfig, parseConfigText, defaultSettings, settingsFor, type LoadedConfig } from './load.js';
export { formatConfig, type FormatOptions } from './format.js';
export { sourceOf, type SourcePosition } from './source.js';
export { lookupSetting, type LookupResult } from './lookup.js';
export { parseSize, parseTime, parseBool, formatSize, formatTime } from './units.js';
export type {
  Settings, ScalarSettings, ServiceSettings, NamespaceSettings, MailboxSettings, PassdbSettings,
  UserdbSettings, InetListenerSettings, UnixListenerSettings, ProtocolFilter, SslMode, MailboxAuto,
  ResultAction,
} from './settings.js';
export {
  varExpand, mailUserVarTable, VarExpandError, type VarExpandContext, type MailUserVarInput,
} from './var-expand.js';
