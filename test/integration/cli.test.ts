// The `behavior-ingest` CLI run as a user runs it, against a real relay (MongoDB) and Kafka.
import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EXAMPLE_EVENTS, topicFor } from "../../src/core/index.ts";
import { uniqueName } from "../support/random.ts";
import { startTestRelay } from "../support/relay.ts";

const brokers = inject("kafkaBrokers");
const ADMIN = `admin_${uniqueName("cli")}`;
const TENANT = uniqueName("cli");
const SERVICE = `svc_${uniqueName("cli")}`;
const QUALITY_TENANT = uniqueName("cliq");
const main = join(import.meta.dirname, "..", "..", "src", "cli", "main.ts");

describe("the behavior-ingest CLI", () => {
  let relay: Awaited<ReturnType<typeof startTestRelay>>;
  let dir: string;
  /** Runs the CLI; resolves with its exit code and output, whatever the code. */
  const cli = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [main, ...args],
        {
          env: {
            ...process.env,
            BEHAVIOR_INGEST_RELAY: relay.httpUrl,
            BEHAVIOR_INGEST_TOKEN: ADMIN,
            KAFKA_BROKERS: brokers.join(","),
            ...env,
          },
        },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
      );
    });

  beforeAll(async () => {
    relay = await startTestRelay(brokers, [`${SERVICE}=*`], {
      // The relay's own auditor, on the quality test's tenant only (other files' topics are theirs).
      env: {
        ADMIN_TOKEN: ADMIN,
        QUALITY_FLUSH_MS: "200",
        AUDITOR_ENABLED: "true",
        AUDITOR_DISCOVER_MS: "500",
        AUDITOR_TOPICS: `^${topicFor(QUALITY_TENANT)}$`,
      },
    });

    dir = await mkdtemp(join(tmpdir(), "cli-"));
  });
  afterAll(async () => {
    await relay?.close();
  });

  it("manages a tracking config: from a template, get, update, list, delete", async () => {
    const made = await cli(["configs", "from-template", TENANT, "vlog_feed", "video", "--name", "短视频"]);
    expect(made.code).toBe(0);
    expect(JSON.parse(made.stdout)).toMatchObject({
      tenant_id: TENANT,
      scenario_id: "vlog_feed",
      version: 1,
    });

    const again = await cli(["configs", "from-template", TENANT, "vlog_feed", "video"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^behavior-ingest: conflict: .*--exists-ok/m);
    const kept = await cli(["configs", "from-template", TENANT, "vlog_feed", "video", "--exists-ok"]);
    expect([kept.code, JSON.parse(kept.stdout).name]).toEqual([0, "短视频"]);

    await writeFile(join(dir, "strict.json"), JSON.stringify({ strict: true, version: 1 }));
    const updated = await cli(["configs", "update", TENANT, "vlog_feed", join(dir, "strict.json")]);
    expect(JSON.parse(updated.stdout)).toMatchObject({ strict: true, version: 2 });
    const stale = await cli(["configs", "update", TENANT, "vlog_feed", join(dir, "strict.json")]);
    expect([stale.code, stale.stderr]).toEqual([1, expect.stringMatching(/version_conflict/)]);

    const old = await cli(["configs", "get", TENANT, "vlog_feed", "--version", "1"]);
    expect(JSON.parse(old.stdout)).toMatchObject({ strict: false, version: 1 });
    const listed = await cli(["configs", "list", TENANT]);
    expect(JSON.parse(listed.stdout).configs).toHaveLength(1);

    expect((await cli(["configs", "delete", TENANT, "vlog_feed"])).stdout).toBe(
      `deleted ${TENANT}/vlog_feed\n`,
    );
    expect(JSON.parse((await cli(["configs", "list", TENANT])).stdout).configs).toEqual([]);
  });

  it("creates, lists and revokes keys, and the secret key then manages its own tenant only", async () => {
    const made = await cli(["keys", "create", TENANT, "--kind", "secret", "--name", "ci"]);
    const { key, record } = JSON.parse(made.stdout) as { key: string; record: { key_id: string } };
    expect(key).toMatch(/^sk_/);
    const own = await cli(["configs", "list", TENANT], { BEHAVIOR_INGEST_TOKEN: key });
    expect(own.code).toBe(0);
    const other = await cli(["configs", "list", "someone_else"], { BEHAVIOR_INGEST_TOKEN: key });
    expect([other.code, other.stderr]).toEqual([1, expect.stringMatching(/^behavior-ingest: forbidden: /)]);

    const listed = JSON.parse((await cli(["keys", "list", TENANT])).stdout) as { keys: { key_id: string }[] };
    expect(listed.keys.map((k) => k.key_id)).toContain(record.key_id);
    expect((await cli(["keys", "revoke", record.key_id])).code).toBe(0);
    await expect
      .poll(async () => (await cli(["configs", "list", TENANT], { BEHAVIOR_INGEST_TOKEN: key })).code, {
        timeout: 15_000,
      })
      .toBe(1); // revoked: 401 once the key cache expires
  });

  it("validates a file locally against the tenant's config, with fields, and fails on an invalid event", async () => {
    await cli(["configs", "from-template", TENANT, "shop", "ecommerce", "--exists-ok"]);
    const event = { ...EXAMPLE_EVENTS.ecommerce_data, tenant_id: TENANT, scenario_id: "shop" };
    await writeFile(
      join(dir, "events.json"),
      JSON.stringify({
        events: [
          event,
          { ...event, action_type: "swipe" },
          { ...event, scenario_data: { ecommerce_data: { price: "x" } } },
        ],
      }),
    );
    const checked = await cli(["validate", join(dir, "events.json")]);
    expect(checked.code).toBe(1);
    expect(checked.stdout).toContain(`#0 valid (would be written to user-behaviors-${TENANT})`);
    expect(checked.stdout).toMatch(/#1 INVALID\n {2}error {3}action_type \[invalid_value\]/);
    expect(checked.stdout).toMatch(
      /#2 valid[^\n]*\n {2}warning scenario_data\.ecommerce_data\.price \[invalid_type\]/,
    );
    expect(checked.stderr).toBe("behavior-ingest: 1 of 3 events are invalid\n");
  });

  it("prints a tenant's quality: rates, targets and the fields that fail most", async () => {
    const tenant = QUALITY_TENANT;
    expect((await cli(["configs", "from-template", tenant, "shop", "ecommerce"])).code).toBe(0);
    const event = { ...EXAMPLE_EVENTS.ecommerce_data, tenant_id: tenant, scenario_id: "shop" };
    const answer = await fetch(`${relay.httpUrl}/api/v1/behaviors/track/batch`, {
      method: "POST",
      headers: { authorization: `Bearer ${SERVICE}`, "content-type": "application/json" },
      body: JSON.stringify({
        events: [event, event, event, { ...event, event_id: "evt_cli_bad", action_type: "swipe" }],
      }),
    });
    expect(answer.status).toBe(200);
    // Counts reach the aggregates within a flush (QUALITY_FLUSH_MS, 200 ms here).
    let shown = await cli(["quality", tenant, "--window", "1h"]);
    // The relay's auditor reads the 3 accepted events back from the topic.
    for (
      let i = 0;
      i < 100 && !(shown.stdout.includes("3 read") && shown.stdout.includes("evt_cli_bad"));
      i++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      shown = await cli(["quality", tenant, "--window", "1h"]);
    }
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(
      "4 received, 3 accepted (0 with warnings), 1 refused, 0 not taken (retried)",
    );
    expect(shown.stdout).toContain("rates     pass 75 %, warnings 0 %, refused 25 %");
    expect(shown.stdout).toContain("✗ validation pass rate   75 % (≥ 95 %)");
    expect(shown.stdout).toMatch(/ 1 {2}error +action_type {2}invalid_value {2}e\.g\. evt_cli_bad/);
    expect(shown.stdout).toContain(
      "in the topic, by producer (auditor)\n  behavior-relay: 3 read, 3 passed, 0 with warnings, 0 failed",
    );
    const json = await cli(["quality", tenant, "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ tenant_id: tenant, window: "24h", pass_rate: 0.75 });
    const wrong = await cli(["quality", tenant, "--window", "2d"]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("--window must be one of 1h, 24h, 7d");
  });

  it("says what is wrong and how to fix it, with an exit code per kind of failure", async () => {
    const usage = await cli(["tail"]);
    expect([usage.code, usage.stderr]).toEqual([
      2,
      expect.stringMatching(/^behavior-ingest: missing <tenant>/),
    ]);
    const badTenant = await cli(["tail", "Not-A-Tenant"]);
    expect([badTenant.code, badTenant.stderr]).toEqual([2, expect.stringMatching(/is not a tenant id/)]);
    const noToken = await cli(["configs", "list", TENANT], { BEHAVIOR_INGEST_TOKEN: "" });
    expect(noToken.code).toBe(1); // an empty token is a token the relay refuses
    const down = await cli(["configs", "list", TENANT], { BEHAVIOR_INGEST_RELAY: "http://127.0.0.1:9" });
    expect([down.code, down.stderr]).toEqual([
      3,
      expect.stringMatching(/cannot reach the relay at .*start it/),
    ]);
    // A Kafka that does not answer is said to be so, not shown as a tenant without events.
    const noKafka = await cli(["tail", TENANT], { KAFKA_BROKERS: "127.0.0.1:9" });
    expect([noKafka.code, noKafka.stderr]).toEqual([
      3,
      expect.stringMatching(/cannot read user-behaviors-.* from Kafka/),
    ]);
    const missing = await cli(["validate", join(dir, "nope.json")]);
    expect([missing.code, missing.stderr]).toEqual([
      2,
      `behavior-ingest: cannot read ${join(dir, "nope.json")}: ENOENT\n`,
    ]);
  });
});
