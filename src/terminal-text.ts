/**
 * Strings from the provider or the callback (error descriptions, claims, scope, user codes…) never
 * reach a terminal with control characters in them: a malicious provider could otherwise move the
 * cursor, rewrite what the user sees or set the window title. Every C0 and C1 control and DEL is
 * written as a `\uXXXX` escape, which also keeps JSON output valid JSON.
 */

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g
// eslint-disable-next-line no-control-regex
const CONTROL_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/g

function escapeChar(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`
}

/** One value from the provider or the callback, made safe for a terminal line (newlines escaped too). */
export function terminalText(text: string): string {
  return text.replace(CONTROL, escapeChar)
}

/** Text made of lines (the CLI's own messages with provider strings in them): everything but `\n` is escaped. */
export function terminalLines(text: string): string {
  return text.replace(CONTROL_BUT_NEWLINE, escapeChar)
}
