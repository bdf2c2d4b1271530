/**
 * Strings from the provider or the callback (error descriptions, claims, scope, user codes…) never
 * reach a terminal raw: a malicious provider could otherwise move the cursor, rewrite what the user
 * sees or set the window title (control characters), or make text read otherwise than it is
 * (bidirectional overrides and isolates, zero-width and other invisible format characters: a name
 * that shows as "admin" but is not, a URL whose host reads backwards). Each such character is
 * written as a `\uXXXX` escape (a surrogate pair for those beyond the BMP), which also keeps JSON
 * output valid JSON: the escapes stand for the same characters.
 *
 * What is escaped: every C0 and C1 control and DEL (Cc), every format character (Cf: bidi marks,
 * overrides and isolates, zero-width space/joiners, word joiner, invisible operators, BOM, the
 * tag characters U+E0000–E007F), the line and paragraph separators, and the invisible letters and
 * fillers that are not Cf (Hangul fillers, the Mongolian free variation selectors and vowel separator,
 * the combining grapheme joiner).
 */

const INVISIBLE_LETTERS = '\\u034f\\u115f\\u1160\\u17b4\\u17b5\\u180b-\\u180f\\u3164\\uffa0'
// One character at a time on purpose: the combining and joining characters are what is escaped.
// eslint-disable-next-line no-misleading-character-class
const ESCAPED = new RegExp(`[\\p{Cc}\\p{Cf}\\u2028\\u2029${INVISIBLE_LETTERS}]`, 'gu')
// eslint-disable-next-line no-misleading-character-class
const ESCAPED_BUT_NEWLINE = new RegExp(`[\\u0000-\\u0009\\u000b-\\u001f\\u007f-\\u009f\\p{Cf}\\u2028\\u2029${INVISIBLE_LETTERS}]`, 'gu')

function escapeChar(char: string): string {
  let escaped = ''
  for (let i = 0; i < char.length; i++) escaped += `\\u${char.charCodeAt(i).toString(16).padStart(4, '0')}`
  return escaped
}

/** One value from the provider or the callback, made safe for a terminal line (newlines escaped too). */
export function terminalText(text: string): string {
  return text.replace(ESCAPED, escapeChar)
}

/** Text made of lines (the CLI's own messages with provider strings in them): everything but `\n` is escaped. */
export function terminalLines(text: string): string {
  return text.replace(ESCAPED_BUT_NEWLINE, escapeChar)
}
