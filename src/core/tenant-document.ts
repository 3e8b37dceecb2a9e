import * as z from "zod";
import { ApiKeyRecord } from "./admin.ts";
import { TenantId } from "./tenant.ts";
import { TrackingConfig } from "./tracking-config.ts";

/** A key as stored and as relays and edges hold it: the record and the SHA-256 hex of the key. */
export const TenantKey = ApiKeyRecord.extend({
  hash: z.string().regex(/^[0-9a-f]{64}$/, "must be the SHA-256 of the key in lowercase hex"),
});
export type TenantKey = z.infer<typeof TenantKey>;

/**
 * Everything the ingest path needs to know of one tenant, in one document: its active tracking configs
 * and its keys (revoked ones included, so that a revocation travels like any other change). The relay's
 * in-memory directory holds one per tenant; the edge's feed and pushes carry the same document.
 */
export const TenantDocument = z.object({
  tenant_id: TenantId,
  configs: z.array(TrackingConfig),
  keys: z.array(TenantKey),
});
export type TenantDocument = z.infer<typeof TenantDocument>;

/** A key as the edge holds it: what its checks need, by hash only (no name or prefix to leak). */
export const EdgeKey = TenantKey.pick({
  hash: true,
  kind: true,
  tenant_id: true,
  allowed_origins: true,
  revoked_at: true,
});
export type EdgeKey = z.infer<typeof EdgeKey>;

/** A tenant as the edge holds it in KV: its configs and its keys as the edge knows them. */
export const EdgeTenant = TenantDocument.pick({ configs: true }).extend({ keys: z.array(EdgeKey) });
export type EdgeTenant = z.infer<typeof EdgeTenant>;
