import { createHash } from "node:crypto";

/**
 * Who is calling: a tenant's secret key may write only that tenant; an internal service key any; the
 * edge (a signed ForwardEvents call, no key) any, having checked the tenant's key itself.
 */
export type Principal = (
  | { kind: "tenant"; tenantId: string; publishable?: boolean }
  | { kind: "internal" }
  | { kind: "admin" }
  | { kind: "edge" }
) & {
  /** The hash of the key presented, for per-key rate limits; set by the key store or the ingest service. */
  keyId?: string;
};

/** Looks up the principal of a presented key. Keys are kept only as SHA-256 hashes. */
export interface KeyStore {
  principalFor(key: string): Promise<Principal | undefined>;
}

/** Keys are stored and looked up only by this hash. */
export const hashKey = (key: string): string => createHash("sha256").update(key).digest("hex");

/** Keys from RELAY_API_KEYS (`key=tenant_id` or `key=*`), until keys are stored with the configs. */
export class EnvKeyStore implements KeyStore {
  readonly #byHash = new Map<string, Principal>();

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const at = entry.lastIndexOf("=");
      if (at <= 0) throw new Error("RELAY_API_KEYS entries must look like key=tenant_id or key=*");
      const tenant = entry.slice(at + 1);
      const keyId = hashKey(entry.slice(0, at));
      this.#byHash.set(
        keyId,
        tenant === "*" ? { kind: "internal", keyId } : { kind: "tenant", tenantId: tenant, keyId },
      );
    }
  }

  async principalFor(key: string): Promise<Principal | undefined> {
    return this.#byHash.get(hashKey(key));
  }
}

/** The only tenant a principal may write, or null for any (service keys, the admin, the edge). */
export const writerTenantOf = (principal: Principal): string | null =>
  principal.kind === "tenant" ? principal.tenantId : null;

/** Managing configs: the admin token any tenant, a tenant's secret key its own; publishable keys never. */
export const mayManage = (principal: Principal, tenantId: string | undefined): boolean =>
  principal.kind === "admin" ||
  (principal.kind === "tenant" &&
    !principal.publishable &&
    tenantId !== undefined &&
    principal.tenantId === tenantId);

/** Tries each store in turn (keys from the environment, then the tenant directory). */
export class KeyStores implements KeyStore {
  readonly #stores: KeyStore[];
  constructor(...stores: KeyStore[]) {
    this.#stores = stores;
  }
  async principalFor(key: string): Promise<Principal | undefined> {
    for (const store of this.#stores) {
      const principal = await store.principalFor(key);
      if (principal !== undefined) return principal;
    }
    return undefined;
  }
}
