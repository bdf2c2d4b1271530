/** The browser double lives in the test kit (packages/clilogin-testkit); the tests import it from here. */
export { approveDeviceOverHttp, authorizeOverHttp, loginOverHttp, type CallbackResponse, type HttpLoginOptions } from 'clilogin-testkit'
