import { CliLogin } from '../../cli-login.ts'
import { nowSeconds } from '../../system.ts'
import { terminalText } from '../../terminal-text.ts'
import { libraryOptions, type CommandOptions } from '../args.ts'
import type { CliContext } from '../io.ts'
import { baseOptions } from './shared.ts'

/** `cli-login profiles`: every profile with a session, the default marked. */
export async function runProfiles(flags: CommandOptions<'profiles'>, ctx: CliContext): Promise<number> {
  const profiles = await new CliLogin({ ...baseOptions(ctx), ...libraryOptions('profiles', flags).options }).profiles()
  if (flags.json) {
    ctx.out(JSON.stringify(profiles.map(({ session_expired: _expired, ...status }) => status)))
    return 0
  }
  if (profiles.length === 0) {
    ctx.err('No profile has a session: run cli-login login')
    return 0
  }
  const now = nowSeconds(ctx.system)
  const rows = profiles.map((p) => [
    p.default ? '*' : ' ',
    p.profile,
    p.issuer ?? '-',
    terminalText(p.email ?? p.name ?? p.subject ?? '-'),
    p.session_expired ? 'session expired' : p.expires_at === null ? 'no expiry' : `${p.expires_at > now ? 'expires' : 'expired'} ${new Date(p.expires_at * 1000).toISOString()}`,
    p.storage,
  ])
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)))
  for (const row of rows) ctx.out(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  '))
  return 0
}

/** `cli-login use <profile>`: the home's default profile, for commands given no --profile. */
export async function runUse(flags: CommandOptions<'use'>, ctx: CliContext, profile?: string): Promise<number> {
  const auth = new CliLogin({ ...baseOptions(ctx), ...libraryOptions('use', flags).options, profile })
  await auth.setDefaultProfile(auth.profile)
  ctx.err(`Profile "${auth.profile}" is now the default (--profile and CLI_LOGIN_PROFILE still choose another).`)
  return 0
}
