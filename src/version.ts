/** The package's version (a unit test checks it against package.json). */
export const VERSION = '0.1.0'
