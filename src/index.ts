export { CliLogin } from './cli-login.ts'
export type {
  AuthFetchInit,
  AuthorizationUrlEvent,
  CallOptions,
  CliLoginOptions,
  DeviceCodeEvent,
  EnterpriseIdentity,
  GetAccessTokenOptions,
  LoginOptions,
  LoginResult,
  LogoutOptions,
  LogoutResult,
  AccountSummary,
  PastedAddressRejectedEvent,
  PendingLoginStart,
  ProfileStatus,
  StatusResult,
} from './library-options.ts'
export type { AppIdentity } from './app.ts'
export {
  AccountChangedError,
  AssertionUnavailableError,
  AuthorizationError,
  CallbackValidationError,
  CliLoginError,
  InsufficientScopeError,
  ErrorCode,
  GrantRefusedError,
  KeychainError,
  LockTimeoutError,
  LoginCancelledError,
  LoginRequiredError,
  LoginTimeoutError,
  OriginNotAllowedError,
  PendingLoginError,
  PortsUnavailableError,
  ProfileNotFoundError,
  ProviderError,
  SessionExpiredError,
  SessionFileError,
  SessionMismatchError,
  StepUpRequiredError,
  StorageError,
  UsageError,
} from './errors.ts'
export type { AccessToken, SessionStatus, Session, SessionUser, ProfileSettings, TargetToken } from './session/session.ts'
export { FileSessionStore, type SessionStore } from './session/file-store.ts'
export type { Keychain } from './session/keychain.ts'
export type { StorageMode } from './session/keychain-store.ts'
export type { LoginPages, SuccessPageInfo, FailurePageInfo } from './loopback/pages.ts'
export type { OpenBrowser, BrowserOpenResult } from './browser/open-browser.ts'
export type { System } from './system.ts'
