/**
 * The provider's storage: one in-memory store per provider (oidc-provider's own adapter warns when
 * used), with the indexes oidc-provider asks adapters for (by grant, user code, session uid) and
 * that the test controls (controls.ts) reach into.
 */

export type StoredPayload = Record<string, unknown> & { grantId?: string; userCode?: string; uid?: string; consumed?: number }

export class DemoStore {
  readonly entries = new Map<string, { payload: StoredPayload; expiresAt: number }>()
  readonly grantMembers = new Map<string, Set<string>>()
  readonly userCodes = new Map<string, string>()
  readonly sessionUids = new Map<string, string>()

  get(key: string): StoredPayload | undefined {
    const entry = this.entries.get(key)
    if (!entry) return undefined
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(key)
      return undefined
    }
    return entry.payload
  }
}

const CLOCK_TOLERANCE_S = 15

export class DemoAdapter {
  readonly #model: string
  readonly #store: DemoStore

  constructor(model: string, store: DemoStore) {
    this.#model = model
    this.#store = store
  }

  #key(id: string): string {
    return `${this.#model}:${id}`
  }

  async upsert(id: string, payload: StoredPayload, expiresIn?: number): Promise<void> {
    const key = this.#key(id)
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + (expiresIn + CLOCK_TOLERANCE_S) * 1000 : Infinity
    this.#store.entries.set(key, { payload, expiresAt })
    if (payload.grantId) {
      const members = this.#store.grantMembers.get(payload.grantId) ?? new Set<string>()
      members.add(key)
      this.#store.grantMembers.set(payload.grantId, members)
    }
    if (payload.userCode) this.#store.userCodes.set(payload.userCode, id)
    if (this.#model === 'Session' && payload.uid) this.#store.sessionUids.set(payload.uid, id)
  }

  async find(id: string): Promise<StoredPayload | undefined> {
    return this.#store.get(this.#key(id))
  }

  async findByUserCode(userCode: string): Promise<StoredPayload | undefined> {
    const id = this.#store.userCodes.get(userCode)
    return id === undefined ? undefined : this.find(id)
  }

  async findByUid(uid: string): Promise<StoredPayload | undefined> {
    const id = this.#store.sessionUids.get(uid)
    return id === undefined ? undefined : this.find(id)
  }

  async consume(id: string): Promise<void> {
    const payload = this.#store.get(this.#key(id))
    if (payload) payload.consumed = Math.floor(Date.now() / 1000)
  }

  async destroy(id: string): Promise<void> {
    this.#store.entries.delete(this.#key(id))
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    const members = this.#store.grantMembers.get(grantId)
    if (!members) return
    const prefix = `${this.#model}:`
    for (const key of members) {
      if (!key.startsWith(prefix)) continue
      this.#store.entries.delete(key)
      members.delete(key)
    }
    if (members.size === 0) this.#store.grantMembers.delete(grantId)
  }
}
