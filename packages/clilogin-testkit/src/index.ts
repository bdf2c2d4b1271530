export {
  DEMO_AUDIENCE,
  DEMO_SECOND_AUDIENCE,
  DEMO_CLIENT_ID,
  DEMO_CLIENT_SECRET,
  DEMO_CONFIDENTIAL_CLIENT_ID,
  DEMO_USERS,
  startTestProvider,
  type DemoUser,
  type TestClient,
  type TestProvider,
  type TestProviderFaults,
  type TestProviderOptions,
  type TestProviderStats,
  type ResourceServerOptions,
  type TokenIdentity,
  type TrustedAssertionIssuer,
} from './provider/index.ts'
export {
  approveDeviceOverHttp,
  authorizeOverHttp,
  BrowserDoubleError,
  createBrowserDouble,
  loginOverHttp,
  type BrowserDouble,
  type BrowserDoubleOpenResult,
  type CallbackResponse,
  type HttpLoginOptions,
} from './browser.ts'
export {
  startProtectedResource,
  type ProtectedResource,
  type ProtectedResourceOptions,
  type ProtectedResourceStats,
} from './protected-resource.ts'
export {
  startCiTokenService,
  type CiTokenService,
  type CiTokenServiceOptions,
  type MintOptions,
} from './ci-token-service.ts'
