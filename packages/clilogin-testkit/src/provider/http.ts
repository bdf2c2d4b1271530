/** Small request and response helpers shared by the provider's middleware. */
import type { IncomingMessage } from 'node:http'
import type { KoaContext } from './oidc-provider.ts'

const MAX_FORM_BYTES = 64 * 1024

export function stringParam(params: Record<string, unknown> | undefined, name: string): string | undefined {
  const value = params?.[name]
  return typeof value === 'string' && value !== '' ? value : undefined
}

export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    const buffer = chunk as Buffer
    size += buffer.length
    if (size > MAX_FORM_BYTES) throw new Error('form too large')
    chunks.push(buffer)
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
}

/**
 * Reads a small request body and puts it back into the stream (edited by `edit`, when given, with
 * its new length), so that oidc-provider still parses it itself (it warns when a body was parsed
 * upstream). Undefined when the body cannot be peeked.
 */
export function peekBody(req: IncomingMessage, edit?: (body: Buffer) => Buffer | undefined): Promise<Buffer | undefined> {
  const length = Number(req.headers['content-length'])
  if (!Number.isInteger(length) || length <= 0 || length > MAX_FORM_BYTES || !req.readable) {
    return Promise.resolve(undefined)
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let received = 0
    const cleanup = (): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onEnd)
    }
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      received += chunk.length
      if (received >= length) {
        cleanup()
        req.pause()
        const body = Buffer.concat(chunks)
        const edited = edit?.(body)
        if (edited) req.headers['content-length'] = String(edited.length)
        req.unshift(edited ?? body)
        resolve(edited ?? body)
      }
    }
    const onEnd = (): void => {
      cleanup()
      resolve(undefined)
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onEnd)
  })
}

export function isJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)
}

/** The token of an `Authorization: Bearer` header, if there is one. */
export function bearerToken(ctx: KoaContext): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(ctx.get('authorization'))?.[1]
}

export function methodNotAllowed(ctx: KoaContext): void {
  ctx.status = 405
  ctx.body = 'Method Not Allowed'
}
