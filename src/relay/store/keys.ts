import { randomBytes, randomUUID } from "node:crypto";
import type { Collection, Db } from "mongodb";
import * as z from "zod";
import { ApiError, ApiKeyRecord, type CreateApiKeyRequest } from "../../core/index.ts";
import { hashKey, type KeyStore, type Principal } from "../auth.ts";
import type { ChangeLog } from "./changes.ts";
import { storeCall } from "./mongo.ts";

/** A key as stored and as the edge's feed gives it: the record and the SHA-256 hex of the key. */
export const StoredKey = ApiKeyRecord.extend({ hash: z.string() });
export type StoredKey = z.infer<typeof StoredKey>;

const PREFIX = { publishable: "pk_", secret: "sk_", service: "svc_" } as const;
const NO_SECRET = { projection: { _id: 0, hash: 0 } } as const;

/**
 * API keys in MongoDB: only SHA-256 hashes are stored, the key itself is returned once at creation.
 * Publishable keys write events of their tenant from browsers (allowed origins); secret keys write
 * their tenant and manage its configs from servers; service keys write any tenant.
 */
export class KeyRepository implements KeyStore {
  readonly #keys: () => Collection<StoredKey>;
  readonly #changes: ChangeLog;

  constructor(db: () => Db, changes: ChangeLog) {
    this.#keys = () => db().collection("api_keys");
    this.#changes = changes;
  }

  async ensureIndexes(): Promise<void> {
    return storeCall(async () => {
      await this.#keys().createIndex({ hash: 1 }, { unique: true, name: "hash" });
      await this.#keys().createIndex({ key_id: 1 }, { unique: true, name: "key_id" });
    });
  }

  async create(request: CreateApiKeyRequest, now: number): Promise<{ key: string; record: ApiKeyRecord }> {
    return storeCall(async () => {
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
    return storeCall(async () => {
      return this.#keys()
        .find(tenantId === undefined ? {} : { tenant_id: tenantId }, NO_SECRET)
        .limit(1000)
        .toArray();
    });
  }

  async get(keyId: string): Promise<ApiKeyRecord | undefined> {
    return storeCall(async () => {
      return (await this.#keys().findOne({ key_id: keyId }, NO_SECRET)) ?? undefined;
    });
  }

  async revoke(keyId: string, now: number): Promise<ApiKeyRecord> {
    return storeCall(async () => {
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
  async recordsForEdge(tenantId: string): Promise<StoredKey[]> {
    return storeCall(async () => {
      return this.#keys()
        .find({ tenant_id: tenantId }, { projection: { _id: 0 } })
        .limit(1000)
        .toArray();
    });
  }

  /** One key record as the edge needs it, revoked or not, by the hash of the key. */
  async recordForEdge(hash: string): Promise<StoredKey | undefined> {
    return storeCall(async () => {
      return (await this.#keys().findOne({ hash }, { projection: { _id: 0 } })) ?? undefined;
    });
  }

  async #logged(record: ApiKeyRecord, now: number): Promise<void> {
    if (record.tenant_id !== null) {
      await this.#changes.record({
        tenant_id: record.tenant_id,
        kind: "keys",
        scenario_id: null,
        version: null,
        at: now,
      });
    }
  }

  async findByKey(key: string): Promise<ApiKeyRecord | undefined> {
    return storeCall(async () => {
      const found = await this.#keys().findOne({ hash: hashKey(key), revoked_at: null }, NO_SECRET);
      return found ?? undefined;
    });
  }

  async principalFor(key: string): Promise<Principal | undefined> {
    return storeCall(async () => {
      const record = await this.findByKey(key);
      if (record === undefined) return undefined;
      if (record.kind === "service") return { kind: "internal" };
      return {
        kind: "tenant",
        tenantId: record.tenant_id as string,
        publishable: record.kind === "publishable",
      };
    });
  }
}
