/**
 * What users install: both packages packed (`npm pack`, as published), installed into an empty app
 * with a real `npm install`, and a tiny embedding tool logging in against the installed test kit's
 * provider through its browser double; CommonJS consumers load both with require(). Needs a build.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { findFreePortRange } from '../helpers/ports.ts'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const PACKAGES = [ROOT, join(ROOT, 'packages', 'clilogin-testkit')]

const TOOL = `import { CliLogin } from 'clilogin'
import { createBrowserDouble, startTestProvider, DEMO_AUDIENCE, DEMO_CLIENT_ID } from 'clilogin-testkit'

const [home, port] = process.argv.slice(2)
const provider = await startTestProvider()
try {
  const browser = createBrowserDouble()
  const auth = new CliLogin({ appName: 'acme', issuer: provider.issuer, clientId: DEMO_CLIENT_ID, audience: DEMO_AUDIENCE, home, port: Number(port), openBrowser: browser.openBrowser })
  await auth.login()
  const { access_token } = await auth.getAccessToken()
  console.log(JSON.stringify(await provider.verifyAccessToken(access_token)))
} finally {
  await provider.close()
}
`

const REQUIRER = `const { CliLogin, LoginRequiredError } = require('clilogin')
const { startTestProvider, createBrowserDouble } = require('clilogin-testkit')
console.log([CliLogin, LoginRequiredError, startTestProvider, createBrowserDouble].map((f) => typeof f).join(' '))
`

let app: string

before(async () => {
  app = await mkdtemp(join(tmpdir(), 'cli-login-app-'))
  const tarballs: string[] = []
  for (const dir of PACKAGES) {
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', app], { cwd: dir })
    tarballs.push(join(app, (JSON.parse(stdout) as Array<{ filename: string }>)[0].filename))
  }
  await writeFile(join(app, 'package.json'), '{ "name": "acme", "private": true, "type": "module" }\n')
  await run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', ...tarballs], { cwd: app, timeout: 240_000 })
  await writeFile(join(app, 'acme.mjs'), TOOL)
  await writeFile(join(app, 'requirer.cjs'), REQUIRER)
})
after(async () => {
  if (app) await rm(app, { recursive: true, force: true })
})

test('the packed packages install into an empty app, with LICENSE and without sources or tests', async () => {
  for (const name of ['clilogin', 'clilogin-testkit']) {
    const files = await readdir(join(app, 'node_modules', name))
    assert.ok(files.includes('LICENSE'), `${name}: ${files.join(' ')}`)
    assert.ok(files.includes('README.md'), `${name}: ${files.join(' ')}`)
    assert.ok(!files.includes('src') && !files.includes('test'), `${name}: ${files.join(' ')}`)
  }
  const dist = await readdir(join(app, 'node_modules', 'clilogin', 'dist'))
  assert.ok(!dist.some((file) => file.includes('demo')), dist.join(' '))
})

test('an embedding tool logs in with the installed kit and gets a token its provider accepts', async () => {
  const home = join(app, 'home')
  const port = await findFreePortRange(50)
  const { stdout } = await run(process.execPath, ['acme.mjs', home, String(port)], { cwd: app, timeout: 60_000 })
  const identity = JSON.parse(stdout) as { sub: string; aud: string }
  assert.equal(identity.sub, 'auth0|alice')
  assert.equal(identity.aud, 'https://api.demo.cli-login.test/')
})

test('CommonJS consumers require() both packages', async () => {
  const { stdout, stderr } = await run(process.execPath, ['requirer.cjs'], { cwd: app })
  assert.equal(stdout.trim(), 'function function function function')
  assert.equal(stderr, '')
})

test('the installed CLI\'s demo without the test kit: one line saying how to get it, exit 1', async () => {
  const lean = await mkdtemp(join(tmpdir(), 'cli-login-lean-'))
  try {
    await writeFile(join(lean, 'package.json'), '{ "name": "lean", "private": true }\n')
    const tarball = (await readdir(app)).find((file) => /^clilogin-\d.*\.tgz$/.test(file))
    assert.ok(tarball)
    await run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', join(app, tarball)], { cwd: lean, timeout: 240_000 })
    const result = await run(process.execPath, [join(lean, 'node_modules', 'clilogin', 'bin', 'cli-login.cjs'), 'demo'], { cwd: lean })
      .then(() => ({ code: 0, stderr: '' }), (error: { code: number; stderr: string }) => error)
    assert.equal(result.code, 1)
    assert.equal(result.stderr, 'cli-login demo needs the test kit: npm install --save-dev clilogin-testkit\n')
  } finally {
    await rm(lean, { recursive: true, force: true })
  }
})
