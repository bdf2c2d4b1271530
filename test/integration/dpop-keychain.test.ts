/**
 * A DPoP session with keychain storage, on a real Secret Service (gnome-keyring on a private bus,
 * test/helpers/secret-service.ts): the private key is in the keychain item with the refresh token
 * (checked with `secret-tool`), never in a file; the session moves to the file and back with it;
 * logout deletes it. libdbus reads the bus address once per process: this file points process.env
 * at one fixture for good.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { DEMO_USERS, startProtectedResource, startTestProvider, type ProtectedResource, type TestProvider } from 'clilogin-testkit'
import { isSecretServiceInstalled, secretTool, startSecretService, type SecretService } from '../helpers/secret-service.ts'
import { libraryLogins } from '../helpers/library-logins.ts'
import { cleanEnv, makeTempHome, runCli } from '../helpers/cli.ts'
import { runMain } from '../helpers/in-process.ts'
import { findFreePortRange } from '../helpers/ports.ts'
import { filesContaining } from '../helpers/files-containing.ts'

const skip = isSecretServiceInstalled() ? false : 'gnome-keyring, dbus or secret-tool not installed (scripts/ci/install-secret-service.sh)'
const CLIENT = 'dpop-keychain'
const [alice] = DEMO_USERS


describe('DPoP key in the OS keychain (gnome-keyring)', { skip }, () => {
  let secretService: SecretService
  let provider: TestProvider
  let resource: ProtectedResource
  const logins = libraryLogins()
  before(async () => {
    secretService = await startSecretService()
    Object.assign(process.env, secretService.env)
    provider = await startTestProvider({ clients: [{ clientId: CLIENT, dpop: true }] })
    resource = await startProtectedResource({ authorizationServer: provider, path: '/api' })
  })
  after(async () => {
    await resource?.close()
    await provider?.close()
    await secretService?.stop()
  })

  it('keeps the private key in the secrets item, not in any file; proofs work; the session moves to the file and back with the key; logout deletes it', async () => {
    const options = { issuer: provider.issuer, clientId: CLIENT, dpop: true as const, resource: resource.resource }
    const auth = logins.auth({ ...options, storage: 'keychain' })
    const result = await auth.login()
    const profile = result.profile
    assert.equal(result.storage, 'keychain')
    const item = secretTool(secretService.env, ['lookup', 'service', 'acme', 'username', `${profile}/secrets`])
    assert.equal(item.status, 0, item.stderr)
    const secrets = JSON.parse(item.stdout) as { dpopKey?: JsonWebKey; refreshToken?: string }
    assert.equal(typeof secrets.dpopKey?.d, 'string')
    assert.equal(typeof secrets.refreshToken, 'string')
    assert.deepEqual(await filesContaining(logins.home, secrets.dpopKey!.d!), [], 'the private key is in no file')
    const file = JSON.parse(await readFile(join(logins.home, 'profiles', profile, 'session.json'), 'utf8')) as Record<string, unknown>
    assert.equal(file.jkt, result.jkt)
    assert.equal(file.dpopKey, undefined)

    const token = await auth.getAccessToken({ forceRefresh: true })
    const answer = await fetch(resource.url, { headers: { authorization: `DPoP ${token.access_token}`, dpop: await token.proof!({ method: 'GET', url: resource.url }) } })
    assert.equal(answer.status, 200)

    // To the file: the key goes with the session, the item is gone.
    const inFile = logins.auth({ ...options, storage: 'file', profile })
    assert.equal((await inFile.getAccessToken()).token_type, 'DPoP')
    assert.deepEqual(await filesContaining(logins.home, secrets.dpopKey!.d!), [join(logins.home, 'profiles', profile, 'session.json')])
    assert.notEqual(secretTool(secretService.env, ['lookup', 'service', 'acme', 'username', `${profile}/secrets`]).status, 0)
    // And back.
    const back = logins.auth({ ...options, storage: 'keychain', profile })
    const again = await back.getAccessToken({ forceRefresh: true })
    assert.equal(again.token_type, 'DPoP')
    assert.deepEqual(await filesContaining(logins.home, secrets.dpopKey!.d!), [])

    await back.logout()
    assert.equal(secretTool(secretService.env, ['search', '--all', 'service', 'acme']).stdout, '')
    assert.deepEqual(await filesContaining(logins.home, secrets.dpopKey!.d!), [])
  })

  it('the CLI with keychain storage: token --format dpop (the full CLI: the key is not in the file) prints lines the resource accepts; logout deletes the item', async () => {
    const temp = await makeTempHome()
    try {
      const env = cleanEnv(temp.dir, { ...secretService.env, CLI_LOGIN_STORAGE: 'keychain' })
      const port = await findFreePortRange(3)
      const login = await runMain(['login', '--issuer', provider.issuer, '--client-id', CLIENT, '--dpop', '--resource', resource.resource, '--port', String(port), '--port-attempts', '3'], env, { username: alice.username, password: alice.password })
      assert.equal(login.code, 0, login.stderr)
      const item = secretTool(secretService.env, ['lookup', 'service', 'cli-login', 'username', 'default/secrets'])
      assert.equal(typeof (JSON.parse(item.stdout) as { dpopKey?: JsonWebKey }).dpopKey?.d, 'string')
      const lines = await runCli(['token', '--format', 'dpop', '--method', 'GET', '--url', resource.url], env)
      assert.equal(lines.code, 0, lines.stderr)
      const headers: Record<string, string> = {}
      for (const line of lines.stdout.trim().split('\n')) headers[line.slice(0, line.indexOf(': ')).toLowerCase()] = line.slice(line.indexOf(': ') + 2)
      assert.equal((await fetch(resource.url, { headers })).status, 200)
      assert.equal((await runMain(['logout'], env)).code, 0)
      assert.notEqual(secretTool(secretService.env, ['lookup', 'service', 'cli-login', 'username', 'default/secrets']).status, 0)
    } finally {
      await temp.cleanup()
    }
  })
})
