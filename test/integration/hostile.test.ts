import { mkdtemp } from "node:fs/promises";
import { request } from "node:http";
import { connect } from "node:http2";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Admin } from "@platformatic/kafka";
import fc from "fast-check";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EXAMPLE_EVENTS } from "../../src/core/index.ts";
import { BehaviorService } from "../../src/gen/recommender/v1/behavior_pb.js";
import { adminClient, edgeTenant, newEdgeSecret, startWorkerdEdge, workerdPid } from "../support/edge.ts";
import { HOSTILE_TENANTS, type Nasty, nasties } from "../support/hostile.ts";
import { freePort } from "../support/ports.ts";
import { uniqueName } from "../support/random.ts";
import { peakRssMb, relayProcess } from "../support/relay.ts";

const brokers = inject("kafkaBrokers");
const SERVICE = `svc_${uniqueName("hostile")}`;
const tenant = uniqueName("hostile");
const EDGE_PORT = await freePort();
const ADMIN = `admin_${uniqueName("hostile")}`;
const EDGE_SECRET = newEdgeSecret();

/** Every refusal is a problem+json 4xx that names what is wrong; nothing is a 5xx; nothing pollutes prototypes. */
const expectRefusedOrHarmless = async (nasty: Nasty, response: Response) => {
  const text = await response.text();
  const where = `${nasty.name}: ${response.status} ${text.slice(0, 200)}`;
  expect(response.status, where).toBeLessThan(500);
  if (nasty.mayBeAccepted && response.status === 200) return;
  expect(response.status, where).toBeGreaterThanOrEqual(400);
  expect(response.headers.get("content-type"), where).toMatch(/^application\/problem\+json/);
  const problem = JSON.parse(text) as { code: string; detail: string };
  expect(problem.code, where).toMatch(/^[a-z_]+$/);
  expect(problem.detail.length, where).toBeGreaterThan(5);
  expect(({} as Record<string, unknown>).polluted, where).toBeUndefined();
};

/**
 * A POST that reads the answer even when the server answers before the whole body was sent (a 413
 * for a declared 2 MB body) and then stops reading: fetch reports only the broken upload.
 */
const postReadingEarlyAnswers = (url: string, headers: Record<string, string>, body: string | Uint8Array) =>
  new Promise<Response>((resolve, reject) => {
    // A fresh connection each time: the server closes one whose upload it cut short.
    const req = request(url, { method: "POST", headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () =>
        resolve(
          new Response(Buffer.concat(chunks), {
            status: res.statusCode,
            headers: res.headers as Record<string, string>,
          }),
        ),
      );
    });
    // A broken upload is not the answer: give the server's early answer a moment to arrive.
    req.on("error", (error) => setTimeout(() => reject(error), 1000));
    req.end(body);
  });

describe("hostile input", () => {
  let relay: ReturnType<typeof relayProcess>;
  let edge: Miniflare;
  let publishable: string;

  beforeAll(async () => {
    // The relay as its own process with default settings, as in production, so its peak memory is its own.
    relay = relayProcess({
      RELAY_HTTP_PORT: String(await freePort()),
      RELAY_GRPC_PORT: String(await freePort()),
      KAFKA_BROKERS: brokers.join(","),
      MONGODB_URI: inject("mongodbUri"),
      MONGODB_DB: uniqueName("hostile"),
      SPOOL_DIR: await mkdtemp(join(tmpdir(), "hostile-spool-")),
      RELAY_API_KEYS: `${SERVICE}=*`,
      ADMIN_TOKEN: ADMIN,
      EDGE_SECRET,
      RELAY_REQUEST_TIMEOUT_MS: "2000",
    });
    await relay.ready();
    publishable = (await edgeTenant(adminClient(relay.url, ADMIN), tenant, [])).publishable;
    edge = await startWorkerdEdge({
      relayUrl: relay.url,
      edgeSecret: EDGE_SECRET,
      port: EDGE_PORT,
      vars: { BODY_TIMEOUT_MS: "2000" },
    });
  }, 180_000);

  afterAll(async () => {
    await edge?.dispose();
    await relay?.close();
  });

  const headersOf = (nasty: Nasty, key: string) => ({
    "content-type": nasty.contentType ?? "application/json",
    ...(nasty.contentEncoding === undefined ? {} : { "content-encoding": nasty.contentEncoding }),
    authorization: `Bearer ${key}`,
  });

  it("the relay's REST API refuses every nasty with a clear 4xx and keeps serving", async () => {
    for (const nasty of nasties(tenant)) {
      for (const path of ["/api/v1/behaviors/track", "/api/v1/behaviors/validate"]) {
        const response = await postReadingEarlyAnswers(
          `${relay.url}${path}`,
          headersOf(nasty, SERVICE),
          nasty.body,
        );
        if (path.endsWith("/validate") && response.status === 200) {
          // /validate answers 200 with success false and the errors.
          const answer = (await response.json()) as { success: boolean; errors: unknown[] };
          if (!nasty.mayBeAccepted) expect(answer.success, nasty.name).toBe(false);
          continue;
        }
        await expectRefusedOrHarmless(nasty, response);
      }
    }
    expect((await fetch(`${relay.url}/livez`)).status).toBe(200);
  });

  it("the edge (workerd) refuses every nasty with a clear 4xx and keeps serving", async () => {
    for (const nasty of nasties(tenant)) {
      const response = await edge.dispatchFetch(`http://127.0.0.1:${EDGE_PORT}/api/v1/behaviors/track`, {
        method: "POST",
        headers: headersOf(nasty, publishable),
        body: nasty.body,
      });
      await expectRefusedOrHarmless(nasty, response as unknown as Response);
    }
    const health = await edge.dispatchFetch(`http://127.0.0.1:${EDGE_PORT}/api/v1/behaviors/health`);
    expect(health.status).toBe(200);
  });

  it("gRPC refuses undecodable messages, oversized ones and hostile tenants with a gRPC status", async () => {
    const session = connect(relay.grpcUrl);
    const call = (payload: Uint8Array, method = "TrackEvent") =>
      new Promise<{ status: string | undefined; message: string | undefined }>((resolve, reject) => {
        const frame = Buffer.alloc(5 + payload.length);
        frame.writeUInt32BE(payload.length, 1);
        frame.set(payload, 5);
        const stream = session.request({
          ":method": "POST",
          ":path": `/recommender.v1.BehaviorService/${method}`,
          "content-type": "application/grpc",
          te: "trailers",
          authorization: `Bearer ${SERVICE}`,
        });
        let headerStatus: string | undefined;
        stream.on("response", (headers) => {
          headerStatus = headers["grpc-status"] as string | undefined;
        });
        stream.on("trailers", (trailers) =>
          resolve({ status: trailers["grpc-status"] as string, message: trailers["grpc-message"] as string }),
        );
        stream.on("end", () => resolve({ status: headerStatus, message: undefined }));
        stream.on("error", reject);
        stream.resume();
        stream.end(frame);
      });
    try {
      // Field 1 (event) with a length running past the end, then random bytes: gRPC's status codes
      // document INTERNAL for "error parsing request proto", and Connect answers so; the relay lives on.
      expect((await call(Uint8Array.from([0x0a, 0xff, 0x01, 0x02]))).status).toBe("13");
      expect((await call(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).status).toBe("13");
      // A message over the 1 MiB limit.
      expect((await call(new Uint8Array(2 * 1024 * 1024))).status).toBe("8"); // RESOURCE_EXHAUSTED
    } finally {
      session.close();
    }
    const client = createClient(BehaviorService, createGrpcTransport({ baseUrl: relay.grpcUrl }));
    for (const hostile of HOSTILE_TENANTS) {
      const answer = await client
        .trackEvent(
          {
            event: {
              tenantId: hostile,
              scenarioId: "vlog_feed",
              userId: "u1",
              itemId: "v1",
              actionType: 5,
              context: { deviceType: 1 },
            },
          },
          { headers: { authorization: `Bearer ${SERVICE}` } },
        )
        .then(
          () => "accepted",
          (error: { code: number }) => error.code,
        );
      expect(answer, JSON.stringify(hostile)).toBe(3); // Code.InvalidArgument
    }
  });

  it("random bodies and random field values never get a 5xx, from the relay or the edge (property)", async () => {
    const { event_id: _id, ...event } = { ...EXAMPLE_EVENTS.video_data, tenant_id: tenant };
    const field = fc.constantFrom(
      ...Object.keys(event),
      "context",
      "scenario_data",
      "__proto__",
      "extra_data",
    );
    const body = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.uint8Array({ maxLength: 4096 }),
      fc.tuple(field, fc.jsonValue()).map(([k, v]) => JSON.stringify({ ...event, [k]: v })),
      fc.tuple(field, fc.string({ unit: "binary" })).map(([k, v]) => JSON.stringify({ ...event, [k]: v })),
    );
    await fc.assert(
      fc.asyncProperty(body, async (payload) => {
        const relayAnswer = await fetch(`${relay.url}/api/v1/behaviors/track`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${SERVICE}` },
          body: payload,
        });
        await relayAnswer.arrayBuffer();
        const edgeAnswer = await edge.dispatchFetch(
          `http://127.0.0.1:${EDGE_PORT}/api/v1/behaviors/collect?key=${publishable}`,
          {
            method: "POST",
            headers: { "content-type": "text/plain" },
            body: payload,
          },
        );
        await edgeAnswer.arrayBuffer();
        return relayAnswer.status < 500 && edgeAnswer.status < 500;
      }),
      { numRuns: 150 },
    );
  }, 180_000);

  /** Sends a request head and the start of a body that never comes; what the server answers. */
  const trickle = (port: number, head: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = createConnection(port, "127.0.0.1", () => socket.write(`${head}{"tenant`));
      let text = "";
      socket.on("data", (chunk) => {
        text += chunk;
        // The answer is complete once its head and its problem+json body are in.
        if (/\r\n\r\n[\s\S]*\}/.test(text)) socket.destroy();
      });
      socket.on("close", () => resolve(text));
      socket.on("error", reject);
      setTimeout(() => socket.destroy(), 20_000);
    });

  it("a body that trickles in is cut off with 408 (slowloris) by the relay and by the edge", async () => {
    const started = Date.now();
    const [atRelay, atEdge] = await Promise.all([
      trickle(
        Number(new URL(relay.url).port),
        `POST /api/v1/behaviors/track HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nauthorization: Bearer ${SERVICE}\r\ncontent-length: 1000\r\n\r\n`,
      ),
      trickle(
        EDGE_PORT,
        `POST /api/v1/behaviors/collect?key=${publishable} HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\ncontent-length: 1000\r\n\r\n`,
      ),
    ]);
    expect(atRelay).toMatch(/^HTTP\/1\.1 408/);
    expect(atEdge).toMatch(/^HTTP\/1\.1 408/);
    expect(atEdge).toMatch(/"code":"request_timeout"/);
    // Both set to 2 s here: cut off after about that, not at the client's 20 s give-up.
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 30_000);

  it("refuses Connect messages over 1 MiB on :8080 too (as gRPC above), before buffering them", async () => {
    const client = createClient(
      BehaviorService,
      createConnectTransport({ baseUrl: relay.url, httpVersion: "1.1", useBinaryFormat: true }),
    );
    const error = await client
      .trackEvents(
        { events: [{ tenantId: tenant, userId: "x".repeat(3 * 1024 * 1024) }] },
        { headers: { authorization: `Bearer ${SERVICE}` } },
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.ResourceExhausted);
  });

  it("memory stayed bounded through all of the above and a concurrent flood of the largest nasties", async () => {
    const biggest = nasties(tenant).filter(
      (n) =>
        n.name.startsWith("gzip bomb") ||
        (typeof n.body === "string" ? n.body.length : n.body.byteLength) > 256 * 1024,
    );
    expect(biggest.length).toBeGreaterThan(0);
    const statuses = await Promise.all(
      Array.from({ length: 24 }, (_, i) => biggest[i % biggest.length] as Nasty).flatMap((nasty) => [
        postReadingEarlyAnswers(
          `${relay.url}/api/v1/behaviors/track`,
          headersOf(nasty, SERVICE),
          nasty.body,
        ).then((r) => r.status),
        edge
          .dispatchFetch(`http://127.0.0.1:${EDGE_PORT}/api/v1/behaviors/track`, {
            method: "POST",
            headers: headersOf(nasty, publishable),
            body: nasty.body,
          })
          .then((r) => r.status),
      ]),
    );
    // Refused as bad, or as too many at once (429 overloaded); never a 5xx.
    for (const status of statuses) expect(status >= 400 && status < 500, String(status)).toBe(true);
    expect((await fetch(`${relay.url}/livez`)).status).toBe(200);
    const workerd = workerdPid();
    expect(workerd).toBeDefined();
    const peaks = { relay: peakRssMb(relay.pid()), edge: peakRssMb(workerd as number) };
    console.log(
      `hostile input: peak RSS relay ${peaks.relay.toFixed(0)} MB, workerd ${peaks.edge.toFixed(0)} MB`,
    );
    // The relay's memory target (≤ 400 MB at peak with default settings) holds under attack, and so
    // does workerd: before bodies were inflated in slices, the flood's gzip bombs took workerd to 1.3 GB.
    expect(peaks.relay).toBeLessThan(400);
    expect(peaks.edge).toBeLessThan(400);
  }, 120_000);

  it("no hostile tenant id ever became a topic", async () => {
    const admin = new Admin({ clientId: "hostile-audit", bootstrapBrokers: brokers });
    try {
      const topics = await admin.listTopics({ includeInternals: true });
      const ours = topics.filter((t) => t.startsWith("user-behaviors-"));
      for (const topic of ours) expect(topic).toMatch(/^user-behaviors-[a-z0-9][a-z0-9_]{0,63}(-rejected)?$/);
    } finally {
      await admin.close();
    }
  });
});
