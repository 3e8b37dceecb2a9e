import type { Handler, MiddlewareHandler } from "hono";
import { PROBLEM_CONTENT_TYPE } from "../../../core/index.ts";
import type { Directory } from "../../ports.ts";
import { type EdgeEnv, keyOf } from "./auth.ts";

/**
 * Grants the request's origin on an answer to a key that allows it, and on every refusal: a page whose
 * key or origin is refused learns why and stops (a browser hides an answer without a CORS grant, and
 * the tracker would retry it for ever), and a refusal grants nothing.
 */
export const grantOrigins: MiddlewareHandler<EdgeEnv> = async (c, next) => {
  await next();
  const origin = c.req.header("origin");
  if (origin === undefined) return;
  const refusal = c.res.headers.get("content-type") === PROBLEM_CONTENT_TYPE;
  if (refusal || c.get("key")?.allowed_origins.includes(origin)) {
    c.res.headers.set("access-control-allow-origin", origin);
    c.res.headers.set("vary", "Origin");
  }
};

/** CORS preflight: granted only to an origin the key in `?key=` allows. */
export const preflight =
  (directory: Directory): Handler<EdgeEnv> =>
  async (c) => {
    const origin = c.req.header("origin");
    const key = await keyOf(directory, c.req.query("key"));
    if (
      origin !== undefined &&
      key !== undefined &&
      key.revoked_at === null &&
      key.allowed_origins.includes(origin)
    ) {
      c.header("access-control-allow-origin", origin);
      c.header("access-control-allow-methods", "POST");
      c.header("access-control-allow-headers", "content-type, content-encoding, authorization, x-api-key");
      c.header("access-control-max-age", "600");
      c.header("vary", "Origin");
    }
    return c.body(null, 204);
  };
