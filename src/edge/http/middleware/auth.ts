import type { Context } from "hono";
import type { EdgeKey } from "../../../core/index.ts";
import { ApiError, bearerToken } from "../../../core/index.ts";
import type { HttpEnv } from "../../../http/middleware.ts";
import { sha256Hex } from "../../digest.ts";
import type { Directory } from "../../ports.ts";

/** The shared variables, and the key a request authenticated with (its allowed origins are granted CORS). */
export type EdgeEnv = { Variables: HttpEnv["Variables"] & { key?: EdgeKey } };

/** A key by its text, revoked or not: the directory holds hashes only. */
export const keyOf = async (directory: Directory, text: string | undefined) =>
  text === undefined ? undefined : await directory.key(await sha256Hex(text));

/** The key of a request: `Authorization: Bearer`, `X-Api-Key`, or `?key=` for beacons that cannot set headers. */
const presentedKey = (c: Context): string | undefined =>
  bearerToken(c.req.header("authorization")) ?? c.req.header("x-api-key") ?? c.req.query("key");

/**
 * The key behind a request; 401 when missing, unknown or revoked, 403 for a key that is not
 * publishable: what browsers and apps hold is public, and a secret or service key sent here would be
 * too, with no origin to check it against. A request with an Origin must come from one the key allows.
 */
export const keyAuthentication =
  (directory: Directory) =>
  async (c: Context<EdgeEnv>): Promise<EdgeKey> => {
    const key = await keyOf(directory, presentedKey(c));
    if (key === undefined || key.revoked_at !== null) {
      throw new ApiError(
        "unauthenticated",
        "send a publishable key as Authorization: Bearer, X-Api-Key or ?key=",
      );
    }
    if (key.kind !== "publishable") {
      throw new ApiError(
        "forbidden",
        `the edge takes publishable keys (pk_…) only; a ${key.kind} key belongs on a server, which sends to the relay: revoke this one if it was ever in a page or an app`,
      );
    }
    const origin = c.req.header("origin");
    if (origin !== undefined && !key.allowed_origins.includes(origin)) {
      throw new ApiError("forbidden", `origin ${origin} is not allowed for this key`);
    }
    c.set("key", key);
    return key;
  };
export type KeyAuthentication = ReturnType<typeof keyAuthentication>;
