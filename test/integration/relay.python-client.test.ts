import { execFile } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { topicFor } from "../../src/core/index.ts";
import { uniqueName } from "../support/random.ts";
import { startTestRelay } from "../support/relay.ts";
import { toolPath } from "../support/tools.ts";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const brokers = inject("kafkaBrokers");
const tenant = uniqueName("py");
const key = `sk_${uniqueName("py")}`;

describe("a client generated from the proto in Python (grpcio)", () => {
  let relay: Awaited<ReturnType<typeof startTestRelay>>;
  let python: string;
  let generated: string;

  beforeAll(async () => {
    relay = await startTestRelay(brokers, [`${key}=${tenant}`]);
    python = toolPath("python");
    generated = await mkdtemp(join(tmpdir(), "py-gen-"));
    await run(python, [
      "-m",
      "grpc_tools.protoc",
      "-I",
      join(root, "protos"),
      `--python_out=${generated}`,
      `--grpc_python_out=${generated}`,
      "recommender/v1/behavior.proto",
    ]);
  });
  afterAll(async () => {
    await relay?.close();
  });

  it("tracks a video event over gRPC, and Kafka's console consumer reads it back", async () => {
    const { stdout } = await run(python, [join(root, "test", "python", "track_event.py")], {
      env: {
        ...process.env,
        GENERATED_DIR: generated,
        RELAY_GRPC_ADDRESS: new URL(relay.grpcUrl).host,
        RELAY_KEY: key,
        TENANT_ID: tenant,
      },
      timeout: 60_000,
    });
    const answer = JSON.parse(stdout) as { success: boolean; event_id: string };
    expect(answer.success).toBe(true);
    expect(answer.event_id).toMatch(/^evt_[0-9a-f]{16}$/);

    const consumed = await run(
      "bash",
      [
        join(root, "scripts", "kafka.sh"),
        "tool",
        "org.apache.kafka.tools.consumer.ConsoleConsumer",
        "--bootstrap-server",
        brokers.join(","),
        "--topic",
        topicFor(tenant),
        "--from-beginning",
        "--max-messages",
        "1",
        "--timeout-ms",
        "45000",
      ],
      { timeout: 60_000, encoding: "utf8" },
    );
    const event = JSON.parse(consumed.stdout.trim().split("\n")[0] ?? "{}");
    expect(event).toMatchObject({
      event_id: answer.event_id,
      tenant_id: tenant,
      action_type: "play_end",
      context: { device_type: "mobile", location: "杭州" },
      scenario_data: { video_data: { duration: 185, completion_rate: 0.92 } },
    });
  });
});
