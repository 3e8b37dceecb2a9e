import { createHash } from "node:crypto";

/** Who is calling: a tenant's secret key may write only that tenant; an internal service key any. */
export type Principal = { kind: "tenant"; tenantId: string } | { kind: "internal" };

/** Looks up the principal of a presented key. Keys are kept only as SHA-256 hashes. */
export interface KeyStore {
  principalFor(key: string): Promise<Principal | undefined>;
}

const hash = (key: string) => createHash("sha256").update(key).digest("hex");

/** Keys from RELAY_API_KEYS (`key=tenant_id` or `key=*`), until keys are stored with the configs. */
export class EnvKeyStore implements KeyStore {
  readonly #byHash = new Map<string, Principal>();

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const at = entry.lastIndexOf("=");
      if (at <= 0) throw new Error("RELAY_API_KEYS entries must look like key=tenant_id or key=*");
      const tenant = entry.slice(at + 1);
      this.#byHash.set(
        hash(entry.slice(0, at)),
        tenant === "*" ? { kind: "internal" } : { kind: "tenant", tenantId: tenant },
      );
    }
  }

  async principalFor(key: string): Promise<Principal | undefined> {
    return this.#byHash.get(hash(key));
  }
}

/** The key in `Authorization: Bearer <key>` (HTTP header or gRPC metadata). */
export const bearerKey = (authorization: string | null | undefined): string | undefined => {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? "");
  return match?.[1];
};

/** The one rule of who may write where. */
export const mayWrite = (principal: Principal, tenantId: string): boolean =>
  principal.kind === "internal" || principal.tenantId === tenantId;
