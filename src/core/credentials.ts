import { isPlainObject } from "./json.ts";

/** The token in `Authorization: Bearer <token>` (an HTTP header or gRPC metadata), if any. */
export const bearerToken = (authorization: string | null | undefined): string | undefined =>
  /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? "")?.[1];

/** The tenant an input claims to belong to, before it is validated: what authorisation checks against. */
export const claimedTenantId = (input: unknown): string | undefined =>
  isPlainObject(input) && typeof input.tenant_id === "string" ? input.tenant_id : undefined;

/**
 * The one rule of who may write where: a credential bound to a tenant writes that tenant's events
 * only; one bound to no tenant (service keys, the admin token) writes any tenant's.
 */
export const mayWriteTenant = (credentialTenant: string | null, tenantId: string): boolean =>
  credentialTenant === null || credentialTenant === tenantId;
