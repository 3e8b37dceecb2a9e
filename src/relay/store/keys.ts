import { randomBytes, randomUUID } from "node:crypto";
import type { Collection } from "mongodb";
import { ApiError, type ApiKeyRecord, type CreateApiKeyRequest, type TenantKey } from "../../core/index.ts";
import { hashKey } from "../auth.ts";
import type { ChangeLog } from "./changes.ts";
import { BULK_DEADLINE_MS, type Store } from "./mongo.ts";

const PREFIX = { publishable: "pk_", secret: "sk_", service: "svc_" } as const;
const NO_SECRET = { projection: { _id: 0, hash: 0 } } as const;

/**
 * API keys in MongoDB: only SHA-256 hashes are stored, the key itself is returned once at creation.
 * Publishable keys write events of their tenant from browsers (allowed origins); secret keys write
 * their tenant and manage its configs from servers; service keys write any tenant.
 */
export class KeyRepository {
  readonly #store: Store;
  readonly #keys: () => Collection<TenantKey>;
  readonly #changes: ChangeLog;

  constructor(store: Store, changes: ChangeLog) {
    this.#store = store;
    this.#keys = () => store.db().collection("api_keys");
    this.#changes = changes;
  }

  async ensureIndexes(): Promise<void> {
    return this.#store.call(async () => {
      await this.#keys().createIndex({ hash: 1 }, { unique: true, name: "hash" });
      await this.#keys().createIndex({ key_id: 1 }, { unique: true, name: "key_id" });
    });
  }

  async create(request: CreateApiKeyRequest, now: number): Promise<{ key: string; record: ApiKeyRecord }> {
    return this.#store.call(async () => {
      const key = `${PREFIX[request.kind]}${randomBytes(24).toString("base64url")}`;
      const record: ApiKeyRecord = {
        key_id: `key_${randomUUID().replaceAll("-", "").slice(0, 16)}`,
        kind: request.kind,
        tenant_id: request.tenant_id ?? null,
        name: request.name,
        prefix: key.slice(0, 10),
        allowed_origins: request.allowed_origins,
        created_at: now,
        revoked_at: null,
      };
      await this.#keys().insertOne({ ...record, hash: hashKey(key) });
      await this.#logged(record, now);
      return { key, record };
    });
  }

  async list(tenantId: string | undefined): Promise<ApiKeyRecord[]> {
    return this.#store.call(async () => {
      return this.#keys()
        .find(tenantId === undefined ? {} : { tenant_id: tenantId }, NO_SECRET)
        .limit(1000)
        .toArray();
    });
  }

  async get(keyId: string): Promise<ApiKeyRecord | undefined> {
    return this.#store.call(async () => {
      return (await this.#keys().findOne({ key_id: keyId }, NO_SECRET)) ?? undefined;
    });
  }

  async revoke(keyId: string, now: number): Promise<ApiKeyRecord> {
    return this.#store.call(async () => {
      // updateOne + read, not findOneAndUpdate with a projection: FerretDB v1 does not implement that.
      const result = await this.#keys().updateOne(
        { key_id: keyId, revoked_at: null },
        { $set: { revoked_at: now } },
      );
      const record = await this.get(keyId);
      if (result.modifiedCount !== 1 || record === undefined)
        throw new ApiError("not_found", `no active key ${keyId}`);
      await this.#logged(record, now);
      return record;
    });
  }

  /** Key records of a tenant as the edge needs them: hashes, kinds, origins, revocations. */
  async recordsForEdge(tenantId: string): Promise<TenantKey[]> {
    return this.#store.call(async () => {
      return this.#keys()
        .find({ tenant_id: tenantId }, { projection: { _id: 0 } })
        .limit(1000)
        .toArray();
    });
  }

  /** Every active key of a tenant, with its hash (the relay's directory loads them all at start). */
  async allOfTenants(): Promise<TenantKey[]> {
    return this.#store.call(
      async () =>
        this.#keys()
          .find({ tenant_id: { $ne: null }, revoked_at: null }, { projection: { _id: 0 } })
          .batchSize(5000)
          .toArray(),
      BULK_DEADLINE_MS,
    );
  }

  /** The service keys (keys of no tenant), revoked ones included. */
  async serviceKeys(): Promise<TenantKey[]> {
    return this.#store.call(async () =>
      this.#keys()
        .find({ kind: "service" }, { projection: { _id: 0 } })
        .toArray(),
    );
  }

  /** One key record as the edge needs it, revoked or not, by the hash of the key. */
  async recordForEdge(hash: string): Promise<TenantKey | undefined> {
    return this.#store.call(async () => {
      return (await this.#keys().findOne({ hash }, { projection: { _id: 0 } })) ?? undefined;
    });
  }

  /** Logs the change for relays and edges; a service key's under no tenant. */
  async #logged(record: ApiKeyRecord, now: number): Promise<void> {
    await this.#changes.record({
      tenant_id: record.tenant_id,
      kind: "keys",
      scenario_id: null,
      version: null,
      at: now,
    });
  }
}
