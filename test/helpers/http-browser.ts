/** The browser double lives in the test kit (packages/cli-login-testkit); the tests import it from here. */
export { approveDeviceOverHttp, authorizeOverHttp, loginOverHttp, type CallbackResponse, type HttpLoginOptions } from 'cli-login-testkit'
