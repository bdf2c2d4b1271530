/**
 * A private certificate authority for tests, made with the `openssl` command (Debian's openssl):
 * a CA and a server certificate for IP 127.0.0.1 (subjectAltName IP:127.0.0.1) signed by it, in a
 * temporary directory of their own. EC P-256 keys, so generating them takes milliseconds.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface TestCa {
  dir: string
  /** Path of the CA certificate (PEM): what NODE_EXTRA_CA_CERTS points at. */
  caPath: string
  caPem: string
  /** The server's private key and certificate (PEM), for `startDemoProvider({ tls: { key, cert } })`. */
  key: string
  cert: string
  cleanup(): Promise<void>
}

const CA_CONFIG = `[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca
[dn]
CN = cli-login test CA
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
`

const SERVER_CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = 127.0.0.1
`

const SERVER_EXTENSIONS = `basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`

/** Generates a CA and a 127.0.0.1 server certificate signed by it. Throws when openssl is missing. */
export async function makeTestCa(): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'cli-login-tls-'))
  const path = (name: string) => join(dir, name)
  try {
    await writeFile(path('ca.cnf'), CA_CONFIG)
    await writeFile(path('server.cnf'), SERVER_CONFIG)
    await writeFile(path('server.ext'), SERVER_EXTENSIONS)
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
    await run('openssl', ['req', '-x509', ...ec, '-config', path('ca.cnf'), '-keyout', path('ca.key'), '-out', path('ca.pem'), '-days', '2'])
    await run('openssl', ['req', '-new', ...ec, '-config', path('server.cnf'), '-keyout', path('server.key'), '-out', path('server.csr')])
    await run('openssl', [
      'x509', '-req', '-in', path('server.csr'), '-CA', path('ca.pem'), '-CAkey', path('ca.key'), '-set_serial', '2',
      '-days', '2', '-extfile', path('server.ext'), '-out', path('server.pem'),
    ])
    const [caPem, key, cert] = await Promise.all(['ca.pem', 'server.key', 'server.pem'].map((name) => readFile(path(name), 'utf8')))
    return { dir, caPath: path('ca.pem'), caPem, key, cert, cleanup: () => rm(dir, { recursive: true, force: true }) }
  } catch (error) {
    await rm(dir, { recursive: true, force: true })
    throw error
  }
}
