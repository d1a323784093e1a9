// Public surface of src/auth.
export { AuthService, AUTH_FAILED_MSG, AUTH_TEMPFAIL_MSG } from './service.js';
export type { AuthResult, AuthFailure, AuthFailureReason, PlainAuthRequest, UserLookupResult, AuthServiceOptions } from './service.js';
export type { AuthSettings, AuthDbSettings } from './settings.js';
export type { AuthClientInfo } from './request.js';
export { AuthPenalty } from './penalty.js';
export { registerAuthDriver, hasAuthDriver, authDriverNames } from './drivers/registry.js';
export type { AccountStore, AccountRecord, AuthDriverModule, PassdbDriver, UserdbDriver } from './drivers/types.js';
export { verifyPassword, hashPassword, credentialsFor, listPasswordSchemes, DEFAULT_PASSWORD_SCHEME } from './schemes/registry.js';
export { createMechanism, SASL_MECHANISMS } from './sasl/index.js';
