/** `cli-login completion bash|zsh|fish`: completion scripts generated from the option specs. */
import { COMMAND_SPECS, COMMANDS, type CommandSpec, type OptionSpec } from '../args.ts'
import type { CliContext } from '../io.ts'

export async function runCompletion(shell: string, ctx: CliContext): Promise<number> {
  ctx.out(shell === 'zsh' ? zsh() : shell === 'fish' ? fish() : bash())
  return 0
}

/** `--name`, and `-X` before it for a flag with a short alias. */
function spellings(name: string, option: OptionSpec): string[] {
  return option.short ? [`-${option.short}`, `--${name}`] : [`--${name}`]
}

function flagsOf(command: keyof typeof COMMAND_SPECS): string[] {
  return [...Object.entries((COMMAND_SPECS[command] as CommandSpec).options).flatMap(([name, option]) => spellings(name, option)), '--help']
}

function choicesOf(command: keyof typeof COMMAND_SPECS): Array<[string, readonly string[]]> {
  return Object.entries((COMMAND_SPECS[command] as CommandSpec).options)
    .filter(([, option]) => option.choices)
    .flatMap(([name, option]) => spellings(name, option).map((flag): [string, readonly string[]] => [flag, option.choices ?? []]))
}

function bash(): string {
  const cases = COMMANDS.map((command) => {
    const spec: CommandSpec = COMMAND_SPECS[command]
    const values = choicesOf(command).map(([flag, choices]) => `        ${flag}) COMPREPLY=($(compgen -W "${choices.join(' ')}" -- "$cur")); return ;;`)
    const positional = spec.positional?.choices ? `      COMPREPLY=($(compgen -W "${spec.positional.choices.join(' ')}" -- "$cur")); return ;;` : ''
    return `    ${command})
      case "$prev" in
${values.join('\n')}
      esac
      [[ "$cur" == -* ]] && { COMPREPLY=($(compgen -W "${flagsOf(command).join(' ')}" -- "$cur")); return; }
${positional || '      return ;;'}`
  })
  return `# bash completion for cli-login: eval "$(cli-login completion bash)"
_cli_login() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W "${COMMANDS.join(' ')} --help --version" -- "$cur"))
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases.join('\n')}
  esac
}
complete -F _cli_login cli-login`
}

function zsh(): string {
  const cases = COMMANDS.map((command) => {
    const spec: CommandSpec = COMMAND_SPECS[command]
    const args = Object.entries(spec.options).map(([name, option]) => {
      const help = option.help.replace(/[[\]:']/g, ' ')
      const value = option.kind === 'boolean' ? '' : option.choices ? `:${name}:(${option.choices.join(' ')})` : `:${name}:`
      return option.short ? `'(-${option.short} --${name})'{-${option.short},--${name}}'[${help}]${value}'` : `'--${name}[${help}]${value}'`
    })
    if (spec.positional?.choices) args.push(`'1:${spec.positional.name}:(${spec.positional.choices.join(' ')})'`)
    return `    ${command}) _arguments ${args.join(' ')} ;;`
  })
  return `#compdef cli-login
# zsh completion for cli-login: eval "$(cli-login completion zsh)", or save it as _cli-login in your $fpath
_cli_login() {
  if (( CURRENT == 2 )); then
    compadd ${COMMANDS.join(' ')}
    return
  fi
  local command=$words[2]
  shift words; (( CURRENT-- ))
  case $command in
${cases.join('\n')}
  esac
}
compdef _cli_login cli-login`
}

function fish(): string {
  const lines = [
    '# fish completion for cli-login: cli-login completion fish | source',
    'complete -c cli-login -f',
    ...COMMANDS.map((command) => `complete -c cli-login -n __fish_use_subcommand -a ${command} -d '${COMMAND_SPECS[command].summary.replace(/'/g, "\\'")}'`),
  ]
  for (const command of COMMANDS) {
    const spec: CommandSpec = COMMAND_SPECS[command]
    for (const [name, option] of Object.entries(spec.options)) {
      const value = option.kind === 'boolean' ? '' : option.choices ? ` -x -a '${option.choices.join(' ')}'` : ' -r'
      lines.push(`complete -c cli-login -n '__fish_seen_subcommand_from ${command}' ${option.short ? `-s ${option.short} ` : ''}-l ${name}${value} -d '${option.help.replace(/'/g, "\\'")}'`)
    }
    if (spec.positional?.choices) lines.push(`complete -c cli-login -n '__fish_seen_subcommand_from ${command}' -a '${spec.positional.choices.join(' ')}'`)
  }
  return lines.join('\n')
}
