import { createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  edgeSecrets,
  ReplayGuard,
  SIGNATURE_WINDOW_MS,
  signatureProblem,
  signCall,
} from "../../src/core/index.ts";
import { webCallCrypto } from "../../src/edge/digest.ts";
import { nodeCallCrypto } from "../../src/relay/edge-calls.ts";

const SECRET = "s".repeat(32);
const OLD = "o".repeat(32);
const body = new TextEncoder().encode('{"tenant_id":"mymx"}');

describe("signed calls between the edge and the relay", () => {
  it("signs HMAC-SHA256 over purpose, timestamp, nonce and the exact bytes, the same with Web Crypto and node:crypto", async () => {
    const signed = await signCall(webCallCrypto, [SECRET], "forward", body, 1_700_000_000_000);
    const expected = createHmac("sha256", SECRET)
      .update(`forward.1700000000000.${signed.nonce}.`)
      .update(body)
      .digest("hex");
    expect(signed.signature).toBe(expected);
    expect(await nodeCallCrypto.hmacHex(SECRET, `forward.1700000000000.${signed.nonce}.`, body)).toBe(
      expected,
    );
  });

  it("accepts a good signature and names what is wrong with every bad one", async () => {
    const now = 1_700_000_000_000;
    const signed = await signCall(nodeCallCrypto, [SECRET], "feed", "/api/v1/edge/keys/ab", now);
    const check = (
      given: Partial<typeof signed>,
      call: "feed" | "push" = "feed",
      text = "/api/v1/edge/keys/ab",
      at = now,
    ) => signatureProblem(webCallCrypto, [SECRET], call, { ...signed, ...given }, text, at);
    expect(await check({})).toBeUndefined();
    expect(await check({ signature: "" })).toBe("the call is not signed");
    expect(await check({ nonce: "x" })).toBe("the call has no valid nonce");
    expect(await check({ timestamp: Number.NaN })).toBe("the call has no valid timestamp");
    expect(await check({}, "feed", "/api/v1/edge/keys/ac")).toBe("the signature does not match");
    expect(await check({}, "push")).toBe("the signature does not match");
    expect(await check({ timestamp: now + 1 })).toBe("the signature does not match");
    expect(await check({}, "feed", "/api/v1/edge/keys/ab", now + SIGNATURE_WINDOW_MS + 1)).toBe(
      "the call is not timestamped within the allowed window",
    );
    expect(await signatureProblem(webCallCrypto, [], "feed", signed, "/api/v1/edge/keys/ab", now)).toMatch(
      /EDGE_SECRET is not set/,
    );
  });

  it("refuses any change to a signed body (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.nat(), async (bytes, at) => {
        const signed = await signCall(nodeCallCrypto, [SECRET], "forward", bytes, 1_000);
        const tampered = bytes.slice();
        const i = at % tampered.length;
        tampered[i] = (tampered[i] as number) ^ 1;
        expect(await signatureProblem(nodeCallCrypto, [SECRET], "forward", signed, tampered, 1_000)).toBe(
          "the signature does not match",
        );
      }),
      { numRuns: 100 },
    );
  });

  it("rotates: the first secret signs, the old one still verifies until it is removed", async () => {
    const secrets = edgeSecrets(` ${SECRET} , ${OLD} `);
    expect(secrets).toEqual([SECRET, OLD]);
    expect(() => edgeSecrets(`${SECRET},short`)).toThrow(/at least 32 characters/);
    const byOld = await signCall(nodeCallCrypto, [OLD], "push", "x", 5);
    expect(await signatureProblem(nodeCallCrypto, secrets, "push", byOld, "x", 5)).toBeUndefined();
    expect(await signatureProblem(nodeCallCrypto, [SECRET], "push", byOld, "x", 5)).toBe(
      "the signature does not match",
    );
  });

  it("takes each signature once within the window, forgets expired ones, and refuses when full", () => {
    const guard = new ReplayGuard(2);
    expect(guard.take("a", 0)).toBe("new");
    expect(guard.take("a", 1)).toBe("replayed");
    expect(guard.take("b", 2)).toBe("new");
    expect(guard.take("c", 3)).toBe("full");
    // After twice the window (a timestamp can be that far from the first use), "a" and "b" expire.
    expect(guard.take("c", 2 * SIGNATURE_WINDOW_MS + 3)).toBe("new");
    expect(guard.take("a", 2 * SIGNATURE_WINDOW_MS + 4)).toBe("new");
  });
});
