/** The contract's exit-code table: every ErrorCode the library can throw → the code the CLI exits with. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { AccountChangedError, AssertionUnavailableError, GrantRefusedError, KeychainError,
  AuthorizationError,
  CallbackValidationError,
  CliLoginError,
  ErrorCode,
  LockTimeoutError,
  LoginCancelledError,
  LoginRequiredError,
  LoginTimeoutError,
  PendingLoginError,
  PortsUnavailableError,
  ProfileNotFoundError,
  ProviderError,
  SessionExpiredError,
  SessionFileError,
  SessionMismatchError,
  StorageError,
  UsageError,
  InsufficientScopeError,
  StepUpRequiredError,
  OriginNotAllowedError,
} from '../../src/errors.ts'
import { exitCodeFor } from '../../src/cli/exit-codes.ts'

const target = { profile: 'default', loginCommand: 'acme login' }

/**
 * One row per ErrorCode: the error the library throws with that code, and the contract's exit code
 * (0 success; 1 failure; 2 usage; 4 login required; 130 interrupted). `satisfies` makes a new code
 * without a row a type error; the test below makes it a failure too.
 */
const TABLE = {
  USAGE: [UsageError.forOption('port', 'must be a port number'), 2],
  INSUFFICIENT_SCOPE: [new InsufficientScopeError(target, 'mcp:basic mcp:write', 'mcp:write'), 4],
  STEP_UP_REQUIRED: [new StepUpRequiredError(target, { acrValues: 'mfa' }), 4],
  LOGIN_REQUIRED: [new LoginRequiredError(target), 4],
  SESSION_EXPIRED: [new SessionExpiredError(target), 4],
  SESSION_MISMATCH: [new SessionMismatchError(target, 'audience'), 4],
  AUTHORIZATION_FAILED: [new AuthorizationError('access_denied', 'the user said no'), 1],
  LOGIN_TIMEOUT: [new LoginTimeoutError(300, 'acme login'), 1],
  LOGIN_CANCELLED: [new LoginCancelledError(), 130],
  PORTS_UNAVAILABLE: [new PortsUnavailableError('127.0.0.1', 4242, 4291), 1],
  PROVIDER_UNREACHABLE: [new ProviderError(ErrorCode.PROVIDER_UNREACHABLE, 'could not reach the provider'), 1],
  PROVIDER_ERROR: [new ProviderError(ErrorCode.PROVIDER_ERROR, 'the provider answered 500', { status: 500 }), 1],
  TOKEN_AUDIENCE_MISMATCH: [new ProviderError(ErrorCode.TOKEN_AUDIENCE_MISMATCH, 'a token for another API', { error: 'audience_mismatch' }), 1],
  CALLBACK_INVALID: [new CallbackValidationError('iss mismatch', 'acme login'), 1],
  SESSION_FILE_INVALID: [new SessionFileError('/x/session.json', 'not JSON'), 1],
  STORAGE_FAILED: [new StorageError('disk full'), 1],
  LOCK_TIMEOUT: [new LockTimeoutError('default', 60_000), 1],
  ACCOUNT_CHANGED: [new AccountChangedError({ profile: 'default', loginCommand: 'acme login' }, 'subject "bob", not "alice"'), 4],
  KEYCHAIN_UNAVAILABLE: [new KeychainError('get', 'acme', 'default/access_token', 'the Secret Service is not running'), 1],
  PENDING_LOGIN_INVALID: [new PendingLoginError('expired', target, { loginId: 'abc', expiresAt: 1_800_000_000 }), 1],
  PROFILE_NOT_FOUND: [new ProfileNotFoundError({ profile: 'work', loginCommand: 'acme login' }), 1],
  GRANT_REFUSED: [new GrantRefusedError(target, new ProviderError(ErrorCode.PROVIDER_ERROR, 'the provider answered the JWT bearer grant with invalid_grant', { error: 'invalid_grant', status: 400 })), 4],
  ASSERTION_UNAVAILABLE: [new AssertionUnavailableError('ACTIONS_ID_TOKEN_REQUEST_URL is not set'), 1],
  INTERNAL: [new CliLoginError(ErrorCode.INTERNAL, 'internal error: boom'), 1],
} satisfies Record<ErrorCode, [CliLoginError, number]>

test('a token refused for its origin is a usage error (exit 2), nothing sent', () => {
  assert.equal(exitCodeFor(new OriginNotAllowedError('https://evil.example', ['https://api.example'])), 2)
})

test('the table covers every ErrorCode', () => {
  assert.deepEqual(Object.keys(TABLE).sort(), Object.values(ErrorCode).sort())
})

for (const [code, [error, exit]] of Object.entries(TABLE)) {
  test(`${code} → exit ${exit}`, () => {
    assert.equal(error.code, code, `${error.name} carries the code`)
    assert.equal(exitCodeFor(error), exit)
  })
}

test('anything that is not a CliLoginError → exit 1', () => {
  assert.equal(exitCodeFor(new Error('boom')), 1)
  assert.equal(exitCodeFor(new TypeError('x is undefined')), 1)
  assert.equal(exitCodeFor('a string'), 1)
  assert.equal(exitCodeFor(undefined), 1)
})
