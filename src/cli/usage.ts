/** `--help` text, generated from the option specs in args.ts so that help and parser cannot disagree. */
import { COMMAND_SPECS, COMMANDS, type CommandName, type CommandSpec } from './args.ts'

export function mainUsage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.length)) + 2
  return `usage: cli-login <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.padEnd(width)}${COMMAND_SPECS[c].summary}`).join('\n')}

Everywhere: --profile <name> (default "default"), --home <dir>. Every option can also be set
as an environment variable CLI_LOGIN_<OPTION>, e.g. CLI_LOGIN_CLIENT_ID.
Run cli-login <command> --help for a command's options; cli-login --version for the version.`
}

export function commandUsage(command: CommandName): string {
  const spec: CommandSpec = COMMAND_SPECS[command]
  const flags = Object.entries(spec.options).map(([name, option]) => [`${option.short ? `-${option.short}, ` : ''}--${name}${option.value ? ` ${option.value}` : ''}`, option.help])
  const width = Math.max(0, ...flags.map(([flag]) => flag.length)) + 2
  const positional = spec.positional ? ` ${spec.positional.choices?.join('|') ?? `<${spec.positional.name}>`}` : ''
  const lines = [`usage: cli-login ${command}${positional}${flags.length ? ' [options]' : ''}`, '', spec.summary]
  if (flags.length) lines.push('', 'Options:', ...flags.map(([flag, help]) => `  ${flag.padEnd(width)}${help}`))
  return lines.join('\n')
}

/** The first line of a command's usage, printed with usage errors. */
export function usageLine(command: CommandName | 'main'): string {
  return (command === 'main' ? mainUsage() : commandUsage(command)).split('\n')[0]
}
