import type { Hono } from "hono";
import {
  ApiError,
  PUSH_PATH,
  PUSH_SIGNATURE_HEADER,
  PUSH_TIMESTAMP_HEADER,
  PUSH_WINDOW_MS,
  pushSigningInput,
} from "../core/index.ts";
import { hex } from "./digest.ts";
import type { CachedDirectory } from "./directory.ts";
import type { TenantRecords } from "./ports.ts";

/** Constant-time comparison of two hex strings. */
const sameHex = (a: string, b: string) => {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
};

/**
 * The push path: the relay sends a tenant's changed configs and keys, signed (src/core/push.ts); the
 * edge checks the signature, the time window and that the signature is new, then writes KV. Unsigned,
 * tampered, stale or replayed pushes are refused with 401.
 */
export const registerPush = (
  app: Hono,
  secret: string,
  directory: CachedDirectory,
  now: () => number = Date.now,
) => {
  const key = crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  app.post(PUSH_PATH, async (c) => {
    const body = await c.req.text();
    const timestamp = Number(c.req.header(PUSH_TIMESTAMP_HEADER));
    const signature = c.req.header(PUSH_SIGNATURE_HEADER) ?? "";
    if (!Number.isSafeInteger(timestamp) || Math.abs(now() - timestamp) > PUSH_WINDOW_MS) {
      throw new ApiError("unauthenticated", "the push is not timestamped within the allowed window");
    }
    const expected = hex(
      await crypto.subtle.sign(
        "HMAC",
        await key,
        new TextEncoder().encode(pushSigningInput(timestamp, body)),
      ),
    );
    if (!sameHex(signature, expected))
      throw new ApiError("unauthenticated", "the push signature does not match");
    if (!(await directory.firstUse(signature)))
      throw new ApiError("unauthenticated", "the push was already applied");
    await directory.store(JSON.parse(body) as TenantRecords & { tenant_id: string });
    return c.json({ applied: true });
  });
};
