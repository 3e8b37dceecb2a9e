import { timingSafeEqual } from "node:crypto";
import type { Context } from "hono";
import { ApiError, bearerToken } from "../../core/index.ts";
import type { HttpEnv } from "../../http/middleware.ts";
import { type KeyStore, mayManage, type Principal } from "../auth.ts";

const sameSecret = (given: string, expected: string | undefined): boolean => {
  if (expected === undefined || expected === "") return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
};

/** Who may call the admin API: the admin token (compared in constant time), or a tenant's secret key. */
export const adminAccess = (deps: { adminToken: string | undefined; keyStore: KeyStore }) => {
  const isAdminToken = (c: Context<HttpEnv>) => {
    const key = bearerToken(c.req.header("authorization"));
    return key !== undefined && sameSecret(key, deps.adminToken);
  };
  const principal = async (c: Context<HttpEnv>): Promise<Principal> => {
    if (isAdminToken(c)) return { kind: "admin" };
    const key = bearerToken(c.req.header("authorization"));
    const found = key === undefined ? undefined : await deps.keyStore.principalFor(key);
    if (found === undefined)
      throw new ApiError(
        "unauthenticated",
        "send the admin token or a secret key as Authorization: Bearer <token>",
      );
    return found;
  };
  /** Refuses a caller that may not manage the tenant (or, without one, is not the admin). */
  const manage = async (c: Context<HttpEnv>, tenantId: string | undefined) => {
    if (!mayManage(await principal(c), tenantId)) {
      throw new ApiError(
        "forbidden",
        tenantId === undefined
          ? "only the admin token may do this"
          : `this key may not manage tenant ${tenantId}`,
      );
    }
  };
  return { isAdminToken, principal, manage };
};
export type AdminAccess = ReturnType<typeof adminAccess>;
