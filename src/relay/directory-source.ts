import type { TenantDocument, TenantKey } from "../core/index.ts";
import type { Change } from "./store/changes.ts";

/** What the tenant directory reads from the store; every call has the store's own deadline. */
export interface DirectorySource {
  /** The number of the latest change, read before a full load so that no later change is missed. */
  latestChange(): Promise<number>;
  /** Changes after `seq`, oldest first, a page at a time; the log has no holes (each number is its insert). */
  changesSince(seq: number): Promise<Change[]>;
  /** Every tenant's document (active configs and keys), for the load at start. */
  all(): Promise<TenantDocument[]>;
  /** One tenant's document, after a change or for a tenant not yet in memory. */
  tenant(tenantId: string): Promise<TenantDocument>;
  /** The service keys (keys of no tenant). */
  serviceKeys(): Promise<TenantKey[]>;
  /** One key by the SHA-256 of its text, revoked or not. */
  key(hash: string): Promise<TenantKey | undefined>;
}
