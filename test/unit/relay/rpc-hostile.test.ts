import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { fromBinary, toBinary, toJsonString } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type BehaviorEvent as CoreEvent,
  EXAMPLE_EVENTS,
  eventToProto,
  topicFor,
  validateEvent,
} from "../../../src/core/index.ts";
import {
  BehaviorEventSchema,
  BehaviorService,
  type SocialScenarioData,
  TrackEventsResponseSchema,
} from "../../../src/gen/recommender/v1/behavior_pb.js";
import type { EventRecord } from "../../../src/kafka/records.ts";
import { EnvKeyStore } from "../../../src/relay/auth.ts";
import { InMemoryConfigSource } from "../../../src/relay/config-source.ts";
import { EdgeCallVerifier } from "../../../src/relay/edge-calls.ts";
import { IngestService } from "../../../src/relay/ingest.ts";
import { createMetrics } from "../../../src/relay/metrics.ts";
import { requestRecorder } from "../../../src/relay/request-log.ts";
import { connectHandler } from "../../../src/relay/rpc/connect-json.ts";
import { createGrpcServer, grpcJsService } from "../../../src/relay/rpc/grpc-server.ts";
import { rawBehaviorMethods } from "../../../src/relay/rpc/raw-requests.ts";
import { behaviorHandlers, connectRoutes } from "../../../src/relay/rpc/service.ts";
import { fixedEnvironment } from "../../support/core.ts";
import {
  BAD_MARK,
  breakUtf8,
  deepJsonText,
  deepStructBytes,
  eventsRequest,
  withField,
} from "../../support/hostile.ts";

// The relay's RPC doors as it serves them: grpc-js on :50051 and Connect on :8080, over real sockets,
// with events that do not decode or that nest, in the middle of valid ones.
const written: EventRecord[] = [];
const log = pino({ level: "silent" });
const ingest = new IngestService({
  configs: new InMemoryConfigSource(),
  keys: new EnvKeyStore(["svc_test=*"]),
  sink: {
    kafkaAvailable: true,
    accepting: true,
    write: async (records) => {
      written.push(...records);
    },
    close: async () => {},
  },
  metrics: createMetrics(),
  log,
  env: fixedEnvironment(),
});
const handlers = behaviorHandlers(ingest, new EdgeCallVerifier([]));
const record = requestRecorder(createMetrics(), log, 20);
const grpcServer = createGrpcServer(
  [grpcJsService(BehaviorService, handlers.behavior, log, record, rawBehaviorMethods)],
  { maxConcurrentStreams: 16, maxMessageBytes: 1024 * 1024 },
);
const connectServer = createServer(
  connectHandler({
    jsonRoutes: connectRoutes(handlers, "json"),
    binaryRoutes: connectRoutes(handlers, "binary"),
    readMaxBytes: 1024 * 1024,
  }),
);
let grpcClient: grpc.Client;
let connectUrl: string;

beforeAll(async () => {
  const port = await grpcServer.listen("127.0.0.1", 0);
  grpcClient = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  await new Promise<void>((resolve) => connectServer.listen(0, "127.0.0.1", resolve));
  connectUrl = `http://127.0.0.1:${(connectServer.address() as AddressInfo).port}`;
});
afterAll(async () => {
  grpcClient.close();
  grpcServer.close();
  await new Promise((resolve) => connectServer.close(resolve));
});

const checked = (input: object): CoreEvent => {
  const result = validateEvent(input, undefined, fixedEnvironment());
  if (!result.ok) throw new Error("the example must be valid");
  return result.event;
};
const video = checked({ ...EXAMPLE_EVENTS.video_data, tenant_id: "mymx" });
const protoOf = (event: CoreEvent) => eventToProto(event);
const bytesOf = (id: string, change: Partial<CoreEvent> = {}) =>
  toBinary(BehaviorEventSchema, protoOf({ ...video, ...change, event_id: id }));

/** A batch whose middle events cannot be taken: not UTF-8, nested past protobuf's limit, an int64 past 2^53. */
const hostileBatch = () => {
  const social = protoOf({ ...checked({ ...EXAMPLE_EVENTS.social_data, tenant_id: "mymx" }), event_id: "d" });
  (social.scenarioData?.data.value as SocialScenarioData).followerCount = 2n ** 60n + 1n;
  return eventsRequest([
    bytesOf("a1"),
    breakUtf8(bytesOf("b", { user_id: BAD_MARK }), [0xed, 0xa0, 0x80]),
    withField(bytesOf("c"), 13, deepStructBytes(60)),
    toBinary(BehaviorEventSchema, social),
    bytesOf("a2"),
  ]);
};

/** What each event of the hostile batch must be answered. */
const expectedResults = [
  { success: true, eventId: "a1" },
  { success: false, errorCode: "invalid_event", retryable: false, errors: [{ path: "user_id" }] },
  { success: false, errorCode: "invalid_event", retryable: false, errors: [{ path: "extra_data" }] },
  {
    success: false,
    errorCode: "invalid_event",
    retryable: false,
    errors: [{ path: "scenario_data.social_data.follower_count", code: "too_big" }],
  },
  { success: true, eventId: "a2" },
];

/** A unary gRPC call with the request as bytes, as a client in any language may send it. */
const grpcCall = (method: string, request: Uint8Array) =>
  new Promise<{ error: grpc.ServiceError | null; response?: Buffer }>((resolve) => {
    const metadata = new grpc.Metadata();
    metadata.set("authorization", "Bearer svc_test");
    grpcClient.makeUnaryRequest(
      `/recommender.v1.BehaviorService/${method}`,
      (bytes: Uint8Array) => Buffer.from(bytes),
      (bytes: Buffer) => bytes,
      request,
      metadata,
      (error, response) => resolve({ error, response }),
    );
  });

const connectCall = (method: string, body: Uint8Array | string, contentType: string) =>
  fetch(`${connectUrl}/recommender.v1.BehaviorService/${method}`, {
    method: "POST",
    headers: { "content-type": contentType, authorization: "Bearer svc_test" },
    body,
  });

/** The events written to the tenant's topic (refused ones go to its -rejected topic). */
const writtenIds = () => written.filter((r) => r.topic === topicFor("mymx")).map((r) => r.eventId);

describe("hostile events over the relay's RPC doors", () => {
  it("gRPC: refuses each event that does not decode or nests too deep on its own, by field, and writes the others", async () => {
    written.length = 0;
    const { error, response } = await grpcCall("TrackEvents", hostileBatch());
    expect(error).toBeNull();
    const answer = fromBinary(TrackEventsResponseSchema, response as Buffer);
    expect(answer).toMatchObject({ total: 5, succeeded: 2, failed: 3 });
    expect(answer.results).toMatchObject(expectedResults);
    expect(answer.results[1]?.errors[0]?.message).toBe("user_id is not valid UTF-8");
    expect(writtenIds()).toEqual(["a1", "a2"]);
  });

  it("Connect (binary): the same answer", async () => {
    written.length = 0;
    const response = await connectCall("TrackEvents", hostileBatch(), "application/proto");
    expect(response.status).toBe(200);
    const answer = fromBinary(TrackEventsResponseSchema, new Uint8Array(await response.arrayBuffer()));
    expect(answer.results).toMatchObject(expectedResults);
    expect(writtenIds()).toEqual(["a1", "a2"]);
  });

  it("gRPC: one event that does not decode is INVALID_ARGUMENT naming its field; a request that is not protobuf is malformed_body", async () => {
    const single = eventsRequest([breakUtf8(bytesOf("b", { user_id: BAD_MARK }), [0xc3, 0x28])]);
    const refused = await grpcCall("TrackEvent", single);
    expect(refused.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(refused.error?.metadata.get("error-code")).toEqual(["invalid_event"]);
    expect(refused.error?.details).toMatch(/user_id is not valid UTF-8/);
    const garbage = await grpcCall("TrackEvents", Uint8Array.from([0x0a, 0xff, 0x01, 0x02]));
    expect(garbage.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(garbage.error?.metadata.get("error-code")).toEqual(["malformed_body"]);
  });

  it("Connect (JSON): bytes that are not UTF-8 refuse the call (invalid_argument) and write nothing", async () => {
    written.length = 0;
    const json = `{"events":[${toJsonString(BehaviorEventSchema, protoOf({ ...video, event_id: "j1", user_id: BAD_MARK }))}]}`;
    const response = await connectCall(
      "TrackEvents",
      breakUtf8(new TextEncoder().encode(json), [0xff]),
      "application/json",
    );
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: "invalid_argument" });
    expect(written).toEqual([]);
  });

  it("Connect (JSON): free JSON past the depth limit is refused by its field beside a valid event; past protobuf's own limit the call is refused, nothing written", async () => {
    written.length = 0;
    const valid = toJsonString(BehaviorEventSchema, protoOf({ ...video, event_id: "j2" }));
    const deep = (depth: number) =>
      toJsonString(BehaviorEventSchema, protoOf({ ...video, event_id: "j3" })).replace(
        /}$/,
        `,"extraData":${deepJsonText(depth)}}`,
      );
    const response = await connectCall(
      "TrackEvents",
      `{"events":[${valid},${deep(40)}]}`,
      "application/json",
    );
    expect(response.status).toBe(200);
    const answer = (await response.json()) as {
      results: { success?: boolean; errors?: { path: string }[] }[];
    };
    expect(answer.results[0]?.success).toBe(true);
    expect(answer.results[1]?.errors?.[0]?.path).toBe("extra_data");
    expect(writtenIds()).toEqual(["j2"]);

    // The issue's 5,000 levels: protobuf's JSON reader stops at 100 messages, so Connect refuses the call.
    written.length = 0;
    const issue = await connectCall("TrackEvents", `{"events":[${valid},${deep(5000)}]}`, "application/json");
    expect(issue.status).toBe(400);
    expect(await issue.json()).toMatchObject({ code: "invalid_argument" });
    expect(written).toEqual([]);
  });
});
