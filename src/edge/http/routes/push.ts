import type { Hono } from "hono";
import {
  ApiError,
  issuesOfZod,
  NONCE_HEADER,
  PUSH_PATH,
  SIGNATURE_HEADER,
  signatureProblem,
  TenantDocument,
  TIMESTAMP_HEADER,
} from "../../../core/index.ts";
import { webCallCrypto } from "../../digest.ts";
import type { CachedDirectory } from "../../directory.ts";
import type { EdgeEnv } from "../middleware/auth.ts";

/**
 * The push path: the relay sends a tenant's changed configs and keys, signed (src/core/edge-signing.ts);
 * the edge checks the signature, the time window and that the signature is new (in KV, so across
 * isolates), then writes KV. Unsigned, tampered, stale or replayed pushes are refused with 401.
 */
export const registerPush = (
  app: Hono<EdgeEnv>,
  secrets: readonly string[],
  directory: CachedDirectory,
  now: () => number = Date.now,
) => {
  app.post(PUSH_PATH, async (c) => {
    const body = await c.req.text();
    const signature = c.req.header(SIGNATURE_HEADER);
    const problem = await signatureProblem(
      webCallCrypto,
      secrets,
      "push",
      { timestamp: Number(c.req.header(TIMESTAMP_HEADER)), nonce: c.req.header(NONCE_HEADER), signature },
      body,
      now(),
    );
    if (problem !== undefined) throw new ApiError("unauthenticated", problem);
    if (!(await directory.firstUse(signature as string)))
      throw new ApiError("unauthenticated", "the push was already applied");
    const pushed = TenantDocument.safeParse(JSON.parse(body));
    if (!pushed.success)
      throw new ApiError(
        "invalid_request",
        "the push is not a tenant document",
        issuesOfZod(pushed.error.issues, "the push"),
      );
    await directory.store(pushed.data);
    return c.json({ applied: true });
  });
};
