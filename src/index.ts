export { CliLogin } from './cli-login.ts'
export type {
  AuthorizationUrlEvent,
  DeviceCodeEvent,
  CliLoginOptions,
  GetAccessTokenOptions,
  LoginResult,
  LogoutOptions,
  LogoutResult,
} from './cli-login.ts'
export {
  AuthorizationError,
  CallbackValidationError,
  CliLoginError,
  ErrorCode,
  LockTimeoutError,
  LoginCancelledError,
  LoginRequiredError,
  LoginTimeoutError,
  PortsUnavailableError,
  ProviderError,
  SessionExpiredError,
  SessionFileError,
  StorageError,
  UsageError,
} from './errors.ts'
export type { AccessToken, SessionStatus, Session, SessionUser, ProfileSettings } from './session/session.ts'
export { FileSessionStore, type SessionStore } from './session/file-store.ts'
export type { LoginPages, SuccessPageInfo, FailurePageInfo } from './loopback/pages.ts'
export type { OpenBrowser, BrowserOpenResult } from './browser/open-browser.ts'
export type { System } from './system.ts'
