// The floors the relay's CPU per event is compared with: each framework alone, doing the least a server
// of that kind does (decode the request, answer a constant), in its own process so that its CPU can be
// read from /proc like the relay's. `node bench/floor-server.ts <grpc-js|connect|hono-node> <port>`;
// `node bench/floor-server.ts producer <brokers> <topic> <records> [<per second>]` writes records with
// the relay's producer settings (in requests of 1,000, or one by one at a steady rate) and prints its
// CPU seconds.
import { createServer as createHttp2Server } from "node:http2";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { serve } from "@hono/node-server";
import { compatibilityPartitioner, ProduceAcks, Producer, stringSerializers } from "@platformatic/kafka";
import { Hono } from "hono";
import { pino } from "pino";
import { EXAMPLE_EVENTS } from "../src/core/index.ts";
import { BehaviorService } from "../src/gen/recommender/v1/behavior_pb.js";
import { codecFor } from "../src/kafka/producer.ts";
import { WRITE_PATH_DEFAULTS } from "../src/kafka/writer.ts";
import { createGrpcServer, grpcJsService } from "../src/relay/rpc/grpc-server.ts";

const [kind, ...args] = process.argv.slice(2);
const answer = { success: true, eventId: "01JBENCH0000000000000000", message: "Event tracked successfully" };
const batchAnswer = (count: number) => ({
  success: true,
  total: count,
  succeeded: count,
  failed: 0,
  results: Array.from({ length: count }, (_, index) => ({ index, success: true, eventId: answer.eventId })),
});

if (kind === "grpc-js") {
  // The relay's own grpc-js glue (protobuf-es codecs), answering constants.
  const service = grpcJsService(
    BehaviorService,
    {
      trackEvent: async () => answer,
      trackEvents: async (request: { events: unknown[] }) => batchAnswer(request.events.length),
    },
    pino({ level: "warn" }),
    () => {}, // a floor measures the framework: nothing recorded
  );
  await createGrpcServer([service], { maxConcurrentStreams: 256, maxMessageBytes: 1024 * 1024 }).listen(
    "127.0.0.1",
    Number(args[0]),
  );
} else if (kind === "connect") {
  const routes = (router: ConnectRouter) =>
    router.service(BehaviorService, {
      trackEvent: () => answer,
      trackEvents: (request) => batchAnswer(request.events.length),
    });
  createHttp2Server(connectNodeAdapter({ routes })).listen(Number(args[0]), "127.0.0.1");
} else if (kind === "hono-node") {
  const app = new Hono();
  app.post("/track", async (c) => {
    const body = (await c.req.json()) as { events?: unknown[] };
    return c.json(Array.isArray(body.events) ? batchAnswer(body.events.length) : answer);
  });
  serve({ fetch: app.fetch, port: Number(args[0]), hostname: "127.0.0.1" });
} else if (kind === "producer") {
  const [brokers = "", topic = "", count = "0", rate = "0"] = args;
  const producer = new Producer({
    clientId: "bench-floor-producer",
    bootstrapBrokers: brokers.split(","),
    serializers: stringSerializers,
    idempotent: true,
    acks: ProduceAcks.ALL,
    partitioner: compatibilityPartitioner,
  });
  const value = JSON.stringify(EXAMPLE_EVENTS.video_data);
  // The codec the relay's write path would choose for a request of this size (src/kafka/producer.ts).
  const send = (n: number) =>
    producer.send({
      compression: codecFor(n * value.length, WRITE_PATH_DEFAULTS),
      messages: Array.from({ length: n }, (_, i) => ({
        topic,
        key: `u${i}`,
        value,
        headers: { event_id: `01JBENCH${i}` },
      })),
    });
  await send(1); // connects, loads metadata
  const before = process.cpuUsage();
  const started = performance.now();
  const total = Number(count);
  const perSecond = Number(rate);
  if (perSecond > 0) {
    // One record per request at a steady rate: what Kafka costs a single-event path at that rate.
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / perSecond;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      sends.push(send(1));
    }
    await Promise.all(sends);
  } else {
    // Requests of 1,000 records back to back: what the relay's lane sends under load (the client
    // allows one request in flight per connection for an idempotent producer).
    let sent = 0;
    while (sent < total) {
      const n = Math.min(1000, total - sent);
      sent += n;
      await send(n);
    }
  }
  const used = process.cpuUsage(before);
  const seconds = (performance.now() - started) / 1000;
  await producer.close();
  console.log(
    JSON.stringify({
      records: total,
      seconds,
      records_per_second: Math.round(total / seconds),
      cpu_seconds: (used.user + used.system) / 1e6,
    }),
  );
} else {
  throw new Error(`unknown floor ${kind}`);
}
