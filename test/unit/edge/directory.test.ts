// The edge's directory reads every tenant document and key with the one schema (src/core/tenant-document.ts)
// wherever it comes from: a push from the relay, the relay's feed, or what KV held.
import { describe, expect, it, vi } from "vitest";
import { PUSH_PATH, signatureHeaders, signCall, type TenantDocument } from "../../../src/core/index.ts";
import { webCallCrypto } from "../../../src/edge/digest.ts";
import { CachedDirectory, type KeyValueStore, type RelayFeed } from "../../../src/edge/directory.ts";
import { createEdgeApp } from "../../../src/edge/http/app.ts";
import { registerPush } from "../../../src/edge/http/routes/push.ts";
import type { EdgePorts } from "../../../src/edge/ports.ts";
import { configFor, fixedEnvironment } from "../../support/core.ts";

const HASH = "a".repeat(64);
const key = {
  key_id: "key_1",
  kind: "publishable" as const,
  tenant_id: "mymx",
  name: "web",
  prefix: "pk_mymx",
  allowed_origins: ["https://mymx.example"],
  created_at: 1,
  revoked_at: null,
  hash: HASH,
};
const document: TenantDocument = {
  tenant_id: "mymx",
  configs: [configFor("video_data", { tenant_id: "mymx", scenario_id: "vlog_feed" })],
  keys: [key],
};
const edgeKey = {
  hash: HASH,
  kind: "publishable",
  tenant_id: "mymx",
  allowed_origins: key.allowed_origins,
  revoked_at: null,
};

const memoryKv = (): KeyValueStore & { values: Map<string, string> } => {
  const values = new Map<string, string>();
  return {
    values,
    get: async (name) => values.get(name) ?? null,
    put: async (name, value) => void values.set(name, value),
  };
};

/** A feed that answers `answer` and counts its reads. */
const feedOf = (answer: () => unknown) => {
  const feed = {
    reads: 0,
    tenant: async () => {
      feed.reads++;
      return answer() as Awaited<ReturnType<RelayFeed["tenant"]>>;
    },
    key: async () => {
      feed.reads++;
      return answer() as Awaited<ReturnType<RelayFeed["key"]>>;
    },
  };
  return feed;
};

describe("the edge's directory", () => {
  it("reads a tenant from KV as the edge holds it: configs and keys, without the key's name or prefix", async () => {
    const kv = memoryKv();
    const feed = feedOf(() => undefined);
    const directory = new CachedDirectory(kv, feed);
    await directory.store(document);
    expect(await directory.tenant("mymx")).toEqual({ configs: document.configs, keys: [edgeKey] });
    expect(await directory.key(HASH)).toEqual(edgeKey);
    expect(feed.reads).toBe(0);
  });

  it("reads from the feed again what KV holds in another shape, or damaged, and keeps the feed's answer", async () => {
    for (const held of [JSON.stringify({ hash: HASH, kind: "publishable" }), '{"hash":']) {
      const kv = memoryKv();
      kv.values.set(`key:${HASH}`, held);
      const feed = feedOf(() => edgeKey);
      const directory = new CachedDirectory(kv, feed);
      expect(await directory.key(HASH)).toEqual(edgeKey);
      expect(feed.reads).toBe(1);
      expect(JSON.parse(kv.values.get(`key:${HASH}`) as string)).toEqual(edgeKey);
    }
  });

  it("answers 'retry' (store_unavailable) when the feed cannot be read", async () => {
    const directory = new CachedDirectory(memoryKv(), {
      tenant: async () => {
        throw new Error("the relay feed answered 500");
      },
      key: async () => undefined,
    });
    await expect(directory.tenant("mymx")).rejects.toMatchObject({ code: "store_unavailable" });
  });
});

describe("the edge's push path", () => {
  const SECRET = "push-secret-0123456789abcdef0123";
  const pushApp = () => {
    const kv = memoryKv();
    const directory = new CachedDirectory(
      kv,
      feedOf(() => undefined),
    );
    const ports = { directory, env: fixedEnvironment() } as unknown as EdgePorts;
    const app = createEdgeApp(ports);
    registerPush(app, [SECRET], directory);
    const push = async (body: string) => {
      const signed = await signCall(webCallCrypto, [SECRET], "push", body);
      return app.request(PUSH_PATH, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...signatureHeaders(signed),
        },
        body,
      });
    };
    return { kv, push };
  };

  it("stores a tenant document", async () => {
    const { kv, push } = pushApp();
    expect((await push(JSON.stringify(document))).status).toBe(200);
    expect(kv.values.has("tenant:mymx")).toBe(true);
    expect(kv.values.has(`key:${HASH}`)).toBe(true);
  });

  it("refuses a push that is not a tenant document with 400, naming the field, and stores nothing", async () => {
    const { kv, push } = pushApp();
    const response = await push(JSON.stringify({ ...document, keys: [{ ...key, hash: "not-a-hash" }] }));
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      code: "invalid_request",
      errors: [{ path: "keys[0].hash" }],
    });
    expect([...kv.values.keys()].filter((name) => !name.startsWith("push:"))).toEqual([]);
  });
});

describe("the edge's unexpected failures", () => {
  it("answers 500 (retryable) and logs the error with the request's id for the operator", async () => {
    const broken = async () => {
      throw new TypeError("KV returned something unexpected");
    };
    const ports = {
      directory: { tenant: broken, key: broken },
      env: fixedEnvironment(),
    } as unknown as EdgePorts;
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const response = await createEdgeApp(ports).request("/api/v1/behaviors/track", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer pk_mymx_0123456789abcdef" },
        body: "{}",
      });
      expect(response.status).toBe(500);
      const answer = (await response.json()) as { code: string; retryable: boolean; request_id: string };
      expect(answer).toMatchObject({ code: "internal", retryable: true });
      expect(logged).toHaveBeenCalledWith(
        "unhandled error",
        { requestId: answer.request_id },
        expect.any(TypeError),
      );
    } finally {
      logged.mockRestore();
    }
  });
});
