// The relay with the produce-only Kafka user docs/security.md recommends, against Kafka's own
// authorizer (SASL/PLAIN, StandardAuthorizer): it writes tenant topics an operator provisioned, it
// cannot create or write anything else, and a topic it may not create only holds back its own events.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  AclOperations,
  AclPermissionTypes,
  Admin,
  findErrorBy,
  ResourcePatternTypes,
  ResourceTypes,
} from "@platformatic/kafka";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXAMPLE_EVENTS, topicFor } from "../../src/core/index.ts";
import { readTopic } from "../support/kafka.ts";
import { privateKafka } from "../support/private-kafka.ts";
import { uniqueName } from "../support/random.ts";
import { startTestRelay } from "../support/relay.ts";

const KEY = `svc_${uniqueName("acl")}`;
const ADMIN_USER = { mechanism: "PLAIN" as const, username: "admin", password: "admin-secret" };
const sasl = (user: string, password: string) => ({
  KAFKA_SECURITY_PROTOCOL: "SASL_PLAINTEXT",
  KAFKA_SASL_MECHANISM: "PLAIN",
  KAFKA_SASL_USERNAME: user,
  KAFKA_SASL_PASSWORD: password,
});

describe("the relay as a produce-only user of a cluster with Kafka's authorizer", () => {
  const kafka = privateKafka(19392, { saslUsers: "admin:admin-secret,relay:relay-secret" });
  let cluster: Awaited<typeof kafka>;
  let relay: Awaited<ReturnType<typeof startTestRelay>>;

  beforeAll(async () => {
    cluster = await kafka;
    await cluster.start();
    // What docs/operations.md tells an operator to grant the relay: write and describe its topics.
    const admin = new Admin({ clientId: "acl-test", bootstrapBrokers: cluster.brokers, sasl: ADMIN_USER });
    await admin.createAcls({
      creations: [AclOperations.WRITE, AclOperations.DESCRIBE].map((operation) => ({
        resourceType: ResourceTypes.TOPIC,
        resourceName: "user-behaviors-",
        resourcePatternType: ResourcePatternTypes.PREFIXED,
        principal: "User:relay",
        host: "*",
        operation,
        permissionType: AclPermissionTypes.ALLOW,
      })),
    });
    await admin.close();
    relay = await startTestRelay(cluster.brokers, [`${KEY}=*`], {
      env: { ...sasl("relay", "relay-secret"), TOPIC_AUTO_CREATE: "true", KAFKA_ACK_TIMEOUT_MS: "2000" },
    });
  }, 240_000);

  afterAll(async () => {
    await relay?.close();
    await cluster?.remove();
  });

  const track = async (tenant: string) => {
    const response = await fetch(`${relay.httpUrl}/api/v1/behaviors/track`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ ...EXAMPLE_EVENTS.video_data, event_id: undefined, tenant_id: tenant }),
    });
    return { status: response.status, id: ((await response.json()) as { event_id: string }).event_id };
  };
  const read = (tenant: string, count: number) =>
    readTopic(cluster.brokers, topicFor(tenant), count, 30_000, () => true, { sasl: ADMIN_USER });

  it("writes the topics an operator provisioned; a topic it may not create holds back only its own events until it exists", async () => {
    const [provisioned, later] = [uniqueName("acl_ready"), uniqueName("acl_later")];
    await promisify(execFile)(
      process.execPath,
      [join(import.meta.dirname, "..", "..", "scripts", "topics.ts"), "ensure", provisioned],
      {
        env: {
          ...process.env,
          KAFKA_BROKERS: cluster.brokers.join(","),
          TOPIC_PARTITIONS: "2",
          ...sasl("admin", "admin-secret"),
        },
      },
    );
    const waiting = await track(later);
    expect(waiting.status).toBe(200);
    const flowing = await track(provisioned);
    expect(flowing.status).toBe(200);
    expect((await read(provisioned, 1)).map((r) => r.headers.get("event_id"))).toEqual([flowing.id]);

    // The relay's user may not create topics: the event waits in the spool until an operator does.
    const admin = new Admin({ clientId: "acl-test", bootstrapBrokers: cluster.brokers, sasl: ADMIN_USER });
    expect(await admin.listTopics()).not.toContain(topicFor(later));
    await admin.createTopics({ topics: [topicFor(later)], partitions: 1, replicas: 1 });
    await admin.close();
    expect((await read(later, 1)).map((r) => r.headers.get("event_id"))).toEqual([waiting.id]);
  }, 120_000);

  it("is refused everything but writing its topics", async () => {
    const asRelay = new Admin({
      clientId: "acl-test",
      bootstrapBrokers: cluster.brokers,
      sasl: { mechanism: "PLAIN", username: "relay", password: "relay-secret" },
    });
    const refusal = await asRelay.createTopics({ topics: ["not-ours"], partitions: 1, replicas: 1 }).then(
      () => "created",
      (error: Error) =>
        findErrorBy(error, "apiId", "TOPIC_AUTHORIZATION_FAILED") === null ? "other" : "refused",
    );
    await asRelay.close();
    expect(refusal).toBe("refused");
  });
});
