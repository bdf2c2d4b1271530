/**
 * Every figure of `npm run bench`, declared once: bench/run.ts measures them by id, prints them and
 * writes README.md's Performance table and bench/README.md's figure list from this list (bench/table.ts),
 * in this order. test/unit/bench-figures.test.ts checks that both READMEs show exactly these.
 */

export type Unit = 'ms' | 'MiB' | 'calls/s' | 'count' | 'kB'

export interface Target {
  /** ratio<= / ratio>=: median ÷ baseline median; value>= / value<=: the median itself. */
  kind: 'ratio<=' | 'ratio>=' | 'value>=' | 'value<='
  limit: number
}

export interface FigureSpec {
  id: string
  /** `npm run bench -- <group>` measures the figures of that group (1–7). */
  group: number
  label: string
  unit: Unit
  /** What the ratio divides by, as the table names it. */
  baseline?: string
  target?: Target
  /** What it shows and how it is measured (bench/README.md). */
  shows: string
}

/** How many `token` processes figure 5 starts at once. */
export const CONCURRENCY = 20

const NODE = 'node -e 0'

export const FIGURES = [
  {
    id: '1a', group: 1, label: 'token (cached) wall', unit: 'ms', baseline: NODE, target: { kind: 'ratio<=', limit: 1.15 },
    shows: '`cli-login token`, cached token, wall: `spawnSync` + `hrtime`, 40 runs, interleaved with `node -e 0` (rotated order)',
  },
  {
    id: '1b', group: 1, label: 'token (cached) peak RSS', unit: 'MiB', baseline: NODE, target: { kind: 'ratio<=', limit: 1.1 },
    shows: 'the same, peak RSS: separate runs through `/usr/bin/time -f %M`, interleaved',
  },
  {
    id: '1c', group: 1, label: 'context: node script reading session.json, wall', unit: 'ms', baseline: NODE,
    shows: 'context: a 3-line CommonJS script that reads `session.json` and prints `accessToken`, in 1a\'s runs',
  },
  {
    id: '1d', group: 1, label: 'context: node script reading session.json, RSS', unit: 'MiB', baseline: NODE,
    shows: 'context: the same script\'s peak RSS, in 1b\'s runs',
  },
  {
    id: '1e', group: 1, label: 'context: token (cached), million instructions (callgrind)', unit: 'count', baseline: NODE,
    shows: 'context: `cli-login token` (cached) and `node -e 0` in million instructions, one run each under `valgrind --tool=callgrind` (skipped without valgrind); drifts a few % where wall time drifts ±10 %',
  },
  {
    id: '1f', group: 1, label: 'federated token (cached) wall', unit: 'ms', baseline: NODE, target: { kind: 'ratio<=', limit: 1.15 },
    shows: '`cli-login token` of a **federated** session (`login --federated github` against the test kit\'s CI token service), cached token, wall: in 1a\'s runs, interleaved with `node -e 0`; each run must print the stored token and fetch no CI token',
  },
  {
    id: '2', group: 2, label: 'getAccessToken() cached, calls/s', unit: 'calls/s', target: { kind: 'value>=', limit: 50_000 },
    shows: '`getAccessToken()` in a loop in one process (`dist/index.js`, cached token): 10 batches of ≥ 200 ms after a warm-up; calls/s per batch',
  },
  {
    id: '3a', group: 3, label: 'login tool-only time (re-login)', unit: 'ms', baseline: 'baseline-login', target: { kind: 'ratio<=', limit: 0.75 },
    shows: 'login "tool-only" time, **re-login** = (spawn → `BROWSER` invoked) + (callback request sent → process exited). `BROWSER` is a shell script that appends `$(date +%s%N) <url>` to a file; the bench then signs in over HTTP (`authorizeOverHttp`, not counted), takes a timestamp, GETs the callback URL itself and waits for the exit. The re-login always logs in on the same profile (so it reuses its cached provider metadata and revokes the replaced refresh token); rotated with the first login and `bench/baseline-login.mjs`; 12 runs each',
  },
  {
    id: '3b', group: 3, label: '  part: start → BROWSER invoked', unit: 'ms', baseline: 'baseline-login',
    shows: 'the first part of 3a',
  },
  {
    id: '3c', group: 3, label: '  part: callback sent → exit (revocation incl.)', unit: 'ms', baseline: 'baseline-login',
    shows: 'the second part of 3a (it includes the revocation of the replaced refresh token, sent while the success page goes out)',
  },
  {
    id: '3e', group: 3, label: 'login tool-only time (first, empty profile)', unit: 'ms', baseline: 'baseline-login', target: { kind: 'ratio<=', limit: 1.0 },
    shows: 'login tool-only time, **first login** on an empty profile (no session, no cached metadata): as 3a, a new profile every run',
  },
  {
    id: '3g', group: 3, label: 'federated login (CI token + one exchange, empty profile)', unit: 'ms', baseline: 'first login tool-only (3e)', target: { kind: 'ratio<=', limit: 1.0 },
    shows: '`login --federated github` on an empty profile, spawn → exit (no browser: the CI token fetched from the test kit\'s stand-in for GitHub\'s token service, one JWT bearer grant), rotated in 3a\'s runs; the ratio divides by 3e\'s first browser logins of the same runs; each run must fetch exactly one CI token',
  },
  {
    id: '3d', group: 3, label: 'login peak RSS', unit: 'MiB', baseline: 'baseline-login', target: { kind: 'ratio<=', limit: 1.0 },
    shows: 'login peak RSS: separate logins through `/usr/bin/time -f %M`, rotated',
  },
  {
    id: '3f', group: 3, label: 'login peak RSS vs AppAuth-JS', unit: 'MiB', baseline: 'AppAuth-JS login', target: { kind: 'ratio<=', limit: 1.0 },
    shows: 'the same peak RSS against a minimal AppAuth-JS login (`bench/baseline-appauth-login.mjs`, `@openid/appauth` 1.3.2 with its Node handler; its opener runs `xdg-open`, which the bench points at the same fake browser), same runs',
  },
  {
    id: '4', group: 4, label: 'token, expired session (1 refresh)', unit: 'ms', baseline: 'baseline-refresh', target: { kind: 'ratio<=', limit: 0.45 },
    shows: '`cli-login token` on an expired session (one refresh): `expiresAt` rewritten to the past before every run; alternates with `bench/baseline-refresh.mjs` on its own expired session; spawn → exit, 12 runs; each run must change the token and add exactly one refresh grant, and cli-login\'s exactly one request to the provider',
  },
  {
    id: '5', group: 5, label: `${CONCURRENCY} concurrent token, expired session`, unit: 'ms', baseline: `${CONCURRENCY} fresh + (1 refresh − 1 cached)`, target: { kind: 'ratio<=', limit: 1.15 },
    shows: `${CONCURRENCY} concurrent \`cli-login token\` on one expired session, against this machine's floor. Per round, rotated: ${CONCURRENCY} \`token\` started at once on an expired session; ${CONCURRENCY} started at once on a fresh session; one refreshing \`token\`; one cached \`token\`; ${CONCURRENCY} \`node -e 0\`. 6 rounds. Ratio = median of the ${CONCURRENCY} expired ÷ median of (${CONCURRENCY} fresh + (1 refreshing − 1 cached)) per round. Fails unless every expired round has all ${CONCURRENCY} exit 0 with the same new token and the provider counts exactly one refresh grant (and fresh rounds none)`,
  },
  {
    id: '5b', group: 5, label: `  part: ${CONCURRENCY} concurrent token, fresh session`, unit: 'ms',
    shows: `part of 5: the ${CONCURRENCY} started at once on a fresh session`,
  },
  {
    id: '5c', group: 5, label: '  part: 1 refreshing token', unit: 'ms', baseline: '1 cached token',
    shows: 'part of 5: one refreshing `token` against one cached `token`',
  },
  {
    id: '5d', group: 5, label: `context: ${CONCURRENCY} concurrent node -e 0`, unit: 'ms',
    shows: `context: ${CONCURRENCY} concurrent \`node -e 0\`, same rounds`,
  },
  {
    id: '6a', group: 6, label: 'consumer install: packages (keychain binding apart)', unit: 'count', target: { kind: 'value<=', limit: 20 },
    shows: 'consumer footprint: the packages in `node_modules` after `npm install <packed tarball>` into an empty app (`npm pack`, `npm install --ignore-scripts`, `npm ls --all --parseable`), the OS keychain binding counted apart (6d), as issue 9\'s targets say; fails if an identity provider came along',
  },
  {
    id: '6b', group: 6, label: 'consumer install: node_modules size (keychain binding apart)', unit: 'MiB', target: { kind: 'value<=', limit: 4.5 },
    shows: 'the same install\'s `node_modules` in MiB (`du -sb`), the keychain binding apart',
  },
  {
    id: '6d', group: 6, label: 'context: the keychain binding', unit: 'MiB',
    shows: 'context: the OS keychain binding (`@napi-rs/keyring` and its platform package) in the same install',
  },
  {
    id: '6c', group: 6, label: 'npm pack size', unit: 'kB',
    shows: 'the packed tarball (its file count and unpacked size in the notes)',
  },
  {
    id: '7a', group: 7, label: 'token (cached) wall, keychain storage', unit: 'ms', baseline: NODE, target: { kind: 'ratio<=', limit: 1.15 },
    shows: '`cli-login token`, cached token, **keychain storage**, wall: a real gnome-keyring on a private D-Bus (`test/helpers/secret-service.ts`; skipped when not installed); a `--storage keychain` login (the refresh token in the keychain, which `secret-tool` must find; the access token cached in the 0600 file), then 40 runs interleaved with `node -e 0` and 7b; each run must print the cached token',
  },
  {
    id: '7b', group: 7, label: 'context: token (cached) wall, file storage, same runs', unit: 'ms', baseline: NODE,
    shows: 'context: 7a\'s command on file storage, same runs',
  },
  {
    id: '8a', group: 8, label: 'login tool-only time, zero configuration (first, --resource)', unit: 'ms', baseline: 'first login --issuer --client-id', target: { kind: 'ratio<=', limit: 1.2 },
    shows: 'login tool-only time (as 3a) of a **zero-configuration first login**, `login --resource <the test kit\'s protected resource>` on an empty profile (its resource metadata, the authorization server\'s metadata and a dynamic client registration included), against `login --issuer <that provider> --client-id <pre-registered>` on an empty profile, against the same registration-enabled provider; alternating, 12 runs each; fails unless every zero-configuration login registered a client',
  },
  {
    id: '9a', group: 9, label: 'fetch (cached) wall', unit: 'ms', baseline: 'curl -s -H "Authorization: Bearer $(cli-login token)"', target: { kind: 'ratio<=', limit: 1.1 },
    shows: '`cli-login fetch <url>` with a cached token, wall, against `sh -c \'curl -s -H "Authorization: Bearer $(cli-login token)" <url>\'`: whole processes (`spawnSync` + `hrtime`), 40 runs each, interleaved (rotated order), the same local resource (a Node HTTP server in a process of its own, answering a small JSON body); each run must print that body',
  },
  {
    id: '9b', group: 9, label: 'auth.fetch() cached, requests/s', unit: 'calls/s', baseline: 'the same fetch with a static Authorization header', target: { kind: 'ratio>=', limit: 0.8 },
    shows: '`auth.fetch(url)` in one process (`dist/index.js`, cached token) against the platform\'s `fetch(url, { headers: { authorization } })` with the token as a constant, the same local resource (its own process), sequential requests whose bodies are read, batches of ≥ 200 ms alternating, 10 each after a warm-up; requests/s per batch',
  },
  {
    id: '10a', group: 10, label: 'getAccessToken() + DPoP proof, calls/s', unit: 'calls/s', baseline: 'bare ES256 sign', target: { kind: 'ratio>=', limit: 0.5 },
    shows: '`getAccessToken()` + `proof({ method, url })` on a cached DPoP session, in a loop in one process (`dist/index.js`), against a bare `crypto.subtle.sign` ES256 loop over a proof\'s signing input, same process, alternating batches of ≥ 200 ms after a warm-up, 10 each; calls/s per batch',
  },
  {
    id: '10b', group: 10, label: 'token --format dpop (cached) wall', unit: 'ms', baseline: NODE, target: { kind: 'ratio<=', limit: 1.25 },
    shows: '`cli-login token --format dpop --method GET --url <url>` on a cached DPoP session (file storage: the fast path signs with node:crypto), wall as 1a, 40 runs interleaved with `node -e 0`; each run must print both header lines',
  },
  {
    id: '10c', group: 10, label: 'DPoP login tool-only time (re-login)', unit: 'ms', baseline: 'bearer login', target: { kind: 'ratio<=', limit: 1.1 },
    shows: 'login tool-only time (as 3a, re-login on its own profile) with `--dpop on` for a client the test kit\'s provider binds (fresh key, `dpop_jkt`, proofs on the code exchange, userinfo and the revocation of the replaced token) against `--dpop off --par off` for a bearer client of the same provider, rotated with 9d, 12 runs each; fails unless every DPoP login stored a DPoP session',
  },
  {
    id: '10d', group: 10, label: 'PAR login tool-only time (re-login)', unit: 'ms', baseline: 'bearer login', target: { kind: 'ratio<=', limit: 1.15 },
    shows: 'the same with `--par on --dpop off` (one more request, to the PAR endpoint, before the browser), same bearer runs; fails unless every PAR login pushed its request',
  },
] as const satisfies readonly FigureSpec[]

export type FigureId = (typeof FIGURES)[number]['id']

export const GROUPS: readonly number[] = [...new Set(FIGURES.map((figure) => figure.group))]

export function figureSpec(id: FigureId): FigureSpec {
  return FIGURES.find((figure) => figure.id === id)!
}
