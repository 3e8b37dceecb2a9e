import type { TenantDocument, TenantKey, TrackingConfig } from "../core/index.ts";
import type { Principal } from "./auth.ts";

const principalOf = (key: TenantKey): Principal =>
  key.kind === "service"
    ? { kind: "internal", keyId: key.hash }
    : {
        kind: "tenant",
        tenantId: key.tenant_id as string,
        publishable: key.kind === "publishable",
        keyId: key.hash,
      };

/**
 * What the tenant directory holds: per tenant with an active config or key, its active configs by
 * scenario and its keys; and the service keys. A document replaces all that was held of its tenant.
 */
export class TenantMemory {
  /** Per tenant with an active config or key: its active configs by scenario, and the hashes of its keys. */
  readonly #tenants = new Map<string, { configs: Map<string, TrackingConfig>; keys: string[] }>();
  /** Active keys by hash: tenants' keys and service keys. */
  readonly #keys = new Map<string, Principal>();
  #serviceKeys: string[] = [];

  /** Tenants held. */
  get tenants(): number {
    return this.#tenants.size;
  }

  /** Active keys held, tenants' and service keys. */
  get keys(): number {
    return this.#keys.size;
  }

  holds(tenantId: string): boolean {
    return this.#tenants.has(tenantId);
  }

  config(tenantId: string, scenarioId: string): TrackingConfig | undefined {
    return this.#tenants.get(tenantId)?.configs.get(scenarioId);
  }

  principal(hash: string): Principal | undefined {
    return this.#keys.get(hash);
  }

  /**
   * Replaces what is held of a tenant with its document. A tenant with no active config or key is not
   * held: memory grows with real tenants, not with every id a caller names.
   */
  apply(document: TenantDocument): void {
    const held = this.#tenants.get(document.tenant_id);
    for (const hash of held?.keys ?? []) this.#keys.delete(hash);
    const keys: string[] = [];
    for (const key of document.keys) {
      if (key.revoked_at !== null) continue;
      this.#keys.set(key.hash, principalOf(key));
      keys.push(key.hash);
    }
    const configs = new Map(document.configs.filter((c) => c.is_active).map((c) => [c.scenario_id, c]));
    if (configs.size === 0 && keys.length === 0) this.#tenants.delete(document.tenant_id);
    else this.#tenants.set(document.tenant_id, { configs, keys });
  }

  /** Replaces the service keys held with `keys`. */
  applyServiceKeys(keys: readonly TenantKey[]): void {
    for (const hash of this.#serviceKeys) this.#keys.delete(hash);
    this.#serviceKeys = [];
    for (const key of keys) {
      if (key.revoked_at !== null) continue;
      this.#keys.set(key.hash, principalOf(key));
      this.#serviceKeys.push(key.hash);
    }
  }

  /**
   * Holds one active service key, found by a lookup before the first load; among the service keys, so
   * that the load (or any later reading of them) drops it when it is revoked by then.
   */
  holdServiceKey(key: TenantKey): void {
    this.#keys.set(key.hash, principalOf(key));
    if (!this.#serviceKeys.includes(key.hash)) this.#serviceKeys.push(key.hash);
  }
}
