import * as z from "zod";
import { EdgeSecretSetting } from "../../core/index.ts";
import { listSetting } from "./list.ts";

/** Who may call the relay (API keys, the admin token) and how it and the edge trust each other. */
export const AccessSettings = z.object({
  /**
   * API keys: comma-separated `key=tenant_id` (a tenant's secret key: writes that tenant only) or
   * `key=*` (an internal service key: writes any tenant). Stored hashed in memory.
   */
  RELAY_API_KEYS: listSetting(""),
  /** Bearer token of the admin API; without one only tenant secret keys can manage (their own) configs. */
  ADMIN_TOKEN: z.string().min(16).optional(),
  /**
   * The HMAC secret shared with the edge, which signs every call between them (forwarded batches,
   * feed reads, pushes; src/core/edge-signing.ts). While rotating, `new,old`: the first signs, both
   * verify. At least 32 characters each. Without it the edge cannot forward or read the feed.
   */
  EDGE_SECRET: EdgeSecretSetting,
  /** Where config and key changes are pushed: every edge's base URL, comma-separated. */
  EDGE_PUSH_URLS: listSetting("").pipe(z.array(z.url())),
});
