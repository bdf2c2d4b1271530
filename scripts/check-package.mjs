// What a careful maintainer checks before publishing, for both packages: publint --strict (the
// package.json and the packed files agree) and Are The Types Wrong, node16 profile (ESM and
// CommonJS consumers each get a module and types of the right kind). Packs with --ignore-scripts:
// run `npm run build` first (npm test does).
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')
const bin = (name) => join(root, 'node_modules', '.bin', name)
const packages = [root, join(root, 'packages', 'clilogin-testkit')]
const out = mkdtempSync(join(tmpdir(), 'cli-login-pack-'))
let failed = false
try {
  for (const dir of packages) {
    const run = (command, args) => {
      try {
        execFileSync(command, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' })
        return true
      } catch (error) {
        process.stderr.write(`${error.stdout ?? ''}${error.stderr ?? ''}`)
        failed = true
        return false
      }
    }
    const before = new Set(readdirSync(out))
    execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', out], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] })
    const tarball = readdirSync(out).find((name) => !before.has(name))
    const publint = run(bin('publint'), ['--strict', '.'])
    const attw = run(bin('attw'), [join(out, tarball), '--profile', 'node16', '--format', 'ascii'])
    console.log(`${tarball}: publint --strict ${publint ? 'clean' : 'FAILED'}; attw --profile node16 ${attw ? 'no problems' : 'FAILED'}`)
  }
} finally {
  rmSync(out, { recursive: true, force: true })
}
process.exitCode = failed ? 1 : 0
