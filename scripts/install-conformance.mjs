// The root's `npm install` / `npm ci` (its prepare script) sets up conformance/: the official MCP
// conformance suite and the Node 22 it needs, from their own package-lock.json, apart from the
// project's dependencies (a root `node` dependency would put Node 22 first on every npm script's
// PATH; the project is tested on the system's Node). Skipped when what is installed there is
// already what the lockfile pins.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const dir = fileURLToPath(new URL('../conformance', import.meta.url))

function versions(lockfile) {
  try {
    const { packages } = JSON.parse(readFileSync(join(dir, lockfile), 'utf8'))
    return JSON.stringify(Object.entries(packages).filter(([path]) => path !== '').map(([path, p]) => [path, p.version]).sort())
  } catch {
    return undefined
  }
}

if (versions('package-lock.json') !== versions('node_modules/.package-lock.json')) {
  // npm_config_* of the outer install (a --global, a --prefix, --ignore-scripts…) are not this install's.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_config_/i.test(key)))
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, stdio: 'inherit', env })
}
