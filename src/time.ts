/**
 * Times as printed and stored (PRODUCT.md, Security requirements): every printed time is RFC 3339,
 * every stored expiry an integer number of epoch seconds that a date can hold.
 */

/** The last second RFC 3339's four-digit years can name: 9999-12-31T23:59:59Z. */
export const LAST_RFC3339_S = 253_402_300_799

/** Epoch seconds as RFC 3339 in UTC (`2030-01-02T03:04:05Z`), held to years 0000–9999. */
export function rfc3339(epochS: number): string {
  const seconds = Math.min(LAST_RFC3339_S, Math.max(-62_167_219_200, Math.floor(epochS)))
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** A time as a session stores it: whole epoch seconds, from 1970 to the last second RFC 3339 can write. */
export function storableTime(epochS: number): number {
  return Math.min(LAST_RFC3339_S, Math.max(0, Math.floor(epochS)))
}
