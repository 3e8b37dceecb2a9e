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
