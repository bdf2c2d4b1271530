/**
 * The side effects the library reaches for besides the filesystem and sockets: environment,
 * platform, clock and the `fetch` used for every request to the provider.
 * Tests pass their own; `defaultSystem()` is the real thing.
 */
export interface System {
  readonly env: NodeJS.ProcessEnv
  readonly platform: NodeJS.Platform
  /** Milliseconds since the Unix epoch. */
  now(): number
  /** Used for every request to the provider; when absent, a proxy-aware one (src/net/provider-fetch.ts). */
  readonly fetch?: typeof fetch
}

export function defaultSystem(overrides: Partial<System> = {}): System {
  return {
    env: overrides.env ?? process.env,
    platform: overrides.platform ?? process.platform,
    now: overrides.now ?? Date.now,
    fetch: overrides.fetch,
  }
}

export function nowSeconds(system: Pick<System, 'now'>): number {
  return Math.floor(system.now() / 1000)
}
