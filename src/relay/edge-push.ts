import { createHmac } from "node:crypto";
import type { Logger } from "pino";
import { PUSH_PATH, PUSH_SIGNATURE_HEADER, PUSH_TIMESTAMP_HEADER, pushSigningInput } from "../core/index.ts";
import type { ConfigRepository } from "./store/configs.ts";
import type { KeyRepository } from "./store/keys.ts";

/**
 * Pushes a tenant's configs and keys to the edge after a change, signed as src/core/push.ts says, so a
 * change reaches edge validation within seconds instead of a cache lifetime. Best effort, a few tries:
 * the edge's pull-through path and cache TTLs still converge if every try fails.
 */
export const edgePusher = (
  edgeUrl: string,
  secret: string,
  stores: { configs: ConfigRepository; keys: KeyRepository },
  log: Logger,
) => {
  const push = async (tenantId: string) => {
    const [configs, keys] = await Promise.all([
      stores.configs.list({ tenant_id: tenantId }),
      stores.keys.recordsForEdge(tenantId),
    ]);
    const body = JSON.stringify({ tenant_id: tenantId, configs, keys });
    for (let attempt = 1; attempt <= 3; attempt++) {
      const timestamp = Date.now();
      const signature = createHmac("sha256", secret).update(pushSigningInput(timestamp, body)).digest("hex");
      try {
        const response = await fetch(`${edgeUrl}${PUSH_PATH}`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            [PUSH_TIMESTAMP_HEADER]: String(timestamp),
            [PUSH_SIGNATURE_HEADER]: signature,
          },
          body,
          signal: AbortSignal.timeout(3_000),
        });
        if (response.ok) return;
        log.warn({ tenantId, status: response.status }, "the edge refused a push");
      } catch (error) {
        log.warn({ err: error, tenantId }, "pushing to the edge failed");
      }
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  };
  return (tenantId: string) => void push(tenantId);
};
