/** Every file under dir, read whole, that contains the needle: proves a secret is in no file in plaintext. */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'

export async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const found: string[] = []
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const path = join(entry.parentPath, entry.name)
    if ((await readFile(path)).includes(needle)) found.push(path)
  }
  return found
}
