import { createHmac, randomUUID } from "node:crypto";
import pRetry from "p-retry";
import type { Logger } from "pino";
import {
  ApiError,
  type CallCrypto,
  PUSH_PATH,
  ReplayGuard,
  type SignedCall,
  signatureHeaders,
  signatureProblem,
  signCall,
} from "../core/index.ts";
import type { ConfigRepository } from "./store/configs.ts";
import type { KeyRepository } from "./store/keys.ts";

/** The relay's half of src/core/edge-signing.ts. */
export const nodeCallCrypto: CallCrypto = {
  hmacHex: (secret, prefix, body) => createHmac("sha256", secret).update(prefix).update(body).digest("hex"),
  nonce: randomUUID,
};

/**
 * Checks the calls the edge makes (forwarded batches, feed reads): signed with EDGE_SECRET, timely,
 * and not seen before. Replays are caught per relay process; a batch replayed to another relay within
 * the window would be written twice with the same event ids (at-least-once, like any retry).
 */
export class EdgeCallVerifier {
  readonly #secrets: readonly string[];
  readonly #seen = new ReplayGuard();

  constructor(secrets: readonly string[]) {
    this.#secrets = secrets;
  }

  async verify(
    call: SignedCall,
    given: { timestamp: unknown; nonce: unknown; signature: unknown },
    body: Uint8Array | string,
  ): Promise<void> {
    const problem = await signatureProblem(nodeCallCrypto, this.#secrets, call, given, body);
    if (problem !== undefined) throw new ApiError("unauthenticated", problem);
    const seen = this.#seen.take(given.signature as string);
    if (seen === "replayed")
      throw new ApiError("unauthenticated", "the call was already made once (replayed)");
    if (seen === "full") {
      throw new ApiError("rate_limited", "too many edge calls to check for replays; retry", [], 1);
    }
  }
}

/** An edge that answered a push with an error status (it is retried like a push that got no answer). */
class EdgeRefusedPush extends Error {
  readonly status: number;
  constructor(status: number) {
    super(`the edge answered ${status}`);
    this.status = status;
  }
}

/**
 * Pushes a tenant's configs and keys to every edge after a change, signed, so a change reaches edge
 * validation within seconds instead of a cache lifetime. Best effort, a few tries per edge: the edge's
 * pull-through path and cache TTLs still converge if every try fails.
 */
export const edgePusher = (
  edgeUrls: readonly string[],
  secrets: readonly string[],
  stores: { configs: ConfigRepository; keys: KeyRepository },
  log: Logger,
) => {
  const push = async (tenantId: string) => {
    let configs: Awaited<ReturnType<ConfigRepository["list"]>>;
    let keys: Awaited<ReturnType<KeyRepository["recordsForEdge"]>>;
    try {
      [configs, keys] = await Promise.all([
        stores.configs.list({ tenant_id: tenantId }),
        stores.keys.recordsForEdge(tenantId),
      ]);
    } catch (error) {
      // A store that misses its deadline must not take the relay down as an unhandled rejection.
      log.warn(
        { err: error, tenantId },
        "could not read the changed tenant to push it; the edges read it from the feed",
      );
      return;
    }
    const body = JSON.stringify({ tenant_id: tenantId, configs, keys });
    await Promise.all(edgeUrls.map((edgeUrl) => pushTo(edgeUrl, tenantId, body)));
  };
  const pushTo = (edgeUrl: string, tenantId: string, body: string) =>
    pRetry(
      async () => {
        // Signed anew for each try: the edge takes a signature only once.
        const signed = await signCall(nodeCallCrypto, secrets, "push", body);
        const response = await fetch(`${edgeUrl}${PUSH_PATH}`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            ...signatureHeaders(signed),
          },
          body,
          signal: AbortSignal.timeout(3_000),
        });
        if (!response.ok) throw new EdgeRefusedPush(response.status);
      },
      {
        retries: 2,
        minTimeout: 500,
        randomize: true,
        maxRetryTime: 10_000,
        onFailedAttempt: ({ error, attemptNumber }) => {
          if (error instanceof EdgeRefusedPush) {
            log.warn({ tenantId, edgeUrl, status: error.status }, "the edge refused a push");
            return;
          }
          // An edge that is down or starting is expected (it reads the feed when it starts): one line, no stack.
          const cause = (error as Error & { cause?: { code?: string } }).cause?.code ?? error.message;
          log.warn(
            { tenantId, edgeUrl, attempt: attemptNumber, cause },
            "could not push to the edge; it reads the change from the feed",
          );
        },
      },
      // The edge reads what it missed from the feed: a push that never lands is logged above, no more.
    ).catch(() => undefined);
  return (tenantId: string) => void push(tenantId);
};
