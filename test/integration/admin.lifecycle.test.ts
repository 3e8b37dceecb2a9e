import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EXAMPLE_EVENTS, type TrackingConfig } from "../../src/core/index.ts";
import { uniqueName } from "../support/random.ts";
import { startTestRelay } from "../support/relay.ts";

const ADMIN = `admin_${uniqueName("token")}`;
const tenant = uniqueName("mymx");
const other = uniqueName("other");

describe("tracking-config admin API on the MongoDB-wire server", () => {
  let relay: Awaited<ReturnType<typeof startTestRelay>>;
  const call = async (method: string, path: string, body?: unknown, token = ADMIN) => {
    const response = await fetch(`${relay.httpUrl}${path}`, {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text === "" ? undefined : JSON.parse(text),
      headers: response.headers,
    };
  };

  beforeAll(async () => {
    relay = await startTestRelay(inject("kafkaBrokers"), [], {
      // The feed read seldom: the changes this file checks take effect at once because they are made
      // through this relay (its directory reads the tenant before answering), not from the feed.
      env: { ADMIN_TOKEN: ADMIN, DIRECTORY_POLL_MS: "60000" },
    });
  });
  afterAll(async () => {
    await relay?.close();
  });

  it("runs the SPEC §5 lifecycle: templates, from-template, custom, get, list, update, soft delete", async () => {
    const templates = await call("GET", "/api/v1/tracking-configs/templates/");
    expect(templates.status).toBe(200);
    expect(templates.body.templates).toHaveLength(8);

    const fromTemplate = await call("POST", "/api/v1/tracking-configs/from-template", {
      tenant_id: tenant,
      scenario_id: "vlog_feed",
      template_id: "video",
      name: "短视频推荐",
    });
    expect(fromTemplate.status).toBe(201);
    expect(fromTemplate.body).toMatchObject({
      tenant_id: tenant,
      scenario_type: "video",
      version: 1,
      is_active: true,
    });

    const custom = await call("POST", "/api/v1/tracking-configs/", {
      tenant_id: tenant,
      scenario_id: "course_clips",
      scenario_type: "video",
      name: "课程片段",
      required_fields: [
        { field_name: "duration", field_type: "integer", required: true, min_value: 1, max_value: 3600 },
      ],
      optional_fields: [],
    });
    expect(custom.status).toBe(201);

    const read = await call("GET", `/api/v1/tracking-configs/${tenant}/vlog_feed`);
    expect(read.body).toEqual(fromTemplate.body);

    const listed = await call("GET", `/api/v1/tracking-configs?tenant_id=${tenant}&scenario_type=video`);
    expect(listed.body.configs.map((c: TrackingConfig) => c.scenario_id)).toEqual([
      "course_clips",
      "vlog_feed",
    ]);

    const updated = await call("PUT", `/api/v1/tracking-configs/${tenant}/vlog_feed`, {
      description: "新版描述",
      version: 1,
    });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ description: "新版描述", version: 2 });
    const first = await call("GET", `/api/v1/tracking-configs/${tenant}/vlog_feed?version=1`);
    expect(first.body.version).toBe(1);

    const deleted = await call("DELETE", `/api/v1/tracking-configs/${tenant}/vlog_feed`);
    expect(deleted.body).toMatchObject({ is_active: false, version: 3 });
    const active = await call("GET", `/api/v1/tracking-configs?tenant_id=${tenant}`);
    expect(active.body.configs.map((c: TrackingConfig) => c.scenario_id)).toEqual(["course_clips"]);
  });

  it("answers the error cases with problems naming the field", async () => {
    const duplicate = await call("POST", "/api/v1/tracking-configs/from-template", {
      tenant_id: tenant,
      scenario_id: "course_clips",
      template_id: "video",
      name: "again",
    });
    expect(duplicate.status).toBe(409);
    const bad = await call("POST", "/api/v1/tracking-configs", {
      tenant_id: tenant,
      scenario_id: "bad",
      scenario_type: "custom",
      name: "bad",
      optional_fields: [
        { field_name: "a", field_type: "date" },
        { field_name: "b", field_type: "float", min_value: 5, max_value: 1 },
        { field_name: "c", field_type: "integer", allowed_values: ["1"] },
      ],
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get("content-type")).toBe("application/problem+json");
    expect(bad.body.errors.map((e: { path: string }) => e.path)).toEqual([
      "optional_fields[0].field_type",
      "optional_fields[1].min_value",
      "optional_fields[2].allowed_values",
    ]);
    expect((await call("GET", `/api/v1/tracking-configs/${tenant}/nope`)).status).toBe(404);
    expect(
      (await call("PUT", `/api/v1/tracking-configs/${tenant}/course_clips`, { name: "x", version: 99 }))
        .status,
    ).toBe(409);
  });

  it("lets exactly one of two concurrent updates of the same version win", async () => {
    const results = await Promise.all(
      ["甲", "乙"].map((name) =>
        call("PUT", `/api/v1/tracking-configs/${tenant}/course_clips`, { name, version: 1 }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    const winner = results.find((r) => r.status === 200)?.body.name;
    expect((await call("GET", `/api/v1/tracking-configs/${tenant}/course_clips`)).body).toMatchObject({
      name: winner,
      version: 2,
    });
  });

  it("refuses calls without the admin token, and keeps a tenant key to its own tenant", async () => {
    expect(
      (await call("GET", `/api/v1/tracking-configs?tenant_id=${tenant}`, undefined, "wrong")).status,
    ).toBe(401);
    const created = await call("POST", "/api/v1/api-keys", {
      kind: "secret",
      tenant_id: tenant,
      name: "server",
    });
    expect(created.status).toBe(201);
    const key = created.body.key as string;
    expect(key).toMatch(/^sk_/);
    expect(JSON.stringify((await call("GET", `/api/v1/api-keys?tenant_id=${tenant}`)).body)).not.toContain(
      key,
    );
    expect(
      (await call("GET", `/api/v1/tracking-configs/${tenant}/course_clips`, undefined, key)).status,
    ).toBe(200);
    expect((await call("GET", `/api/v1/tracking-configs?tenant_id=${other}`, undefined, key)).status).toBe(
      403,
    );
    const foreign = await call(
      "POST",
      "/api/v1/tracking-configs/from-template",
      { tenant_id: other, scenario_id: "x", template_id: "news", name: "x" },
      key,
    );
    expect(foreign.status).toBe(403);
    expect((await call("POST", "/api/v1/api-keys", { kind: "service", name: "x" }, key)).status).toBe(403);
  });

  it("creates, uses and revokes a key for event writes", async () => {
    const created = await call("POST", "/api/v1/api-keys", {
      kind: "secret",
      tenant_id: tenant,
      name: "writer",
    });
    const track = () =>
      call(
        "POST",
        "/api/v1/behaviors/track",
        { ...EXAMPLE_EVENTS.video_data, tenant_id: tenant, scenario_id: "course_clips" },
        created.body.key,
      );
    expect((await track()).status).toBe(200);
    const revoked = await call("DELETE", `/api/v1/api-keys/${created.body.record.key_id}`);
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
    expect((await track()).status).toBe(401);
  });

  it("warns about an event that breaks the config right after the config changes", async () => {
    const key = (await call("POST", "/api/v1/api-keys", { kind: "secret", tenant_id: tenant, name: "v" }))
      .body.key;
    const event = {
      ...EXAMPLE_EVENTS.video_data,
      tenant_id: tenant,
      scenario_id: "course_clips",
      scenario_data: { video_data: { duration: 3000 } },
    };
    const before = await call("POST", "/api/v1/behaviors/validate", event, key);
    expect(before.body.validation_warnings).toEqual([]);
    const current = (await call("GET", `/api/v1/tracking-configs/${tenant}/course_clips`))
      .body as TrackingConfig;
    await call("PUT", `/api/v1/tracking-configs/${tenant}/course_clips`, {
      version: current.version,
      required_fields: [{ field_name: "duration", field_type: "integer", min_value: 1, max_value: 600 }],
    });
    const after = await call("POST", "/api/v1/behaviors/track", event, key);
    expect(after.status).toBe(200);
    expect(after.body.validation_warnings).toEqual([
      expect.objectContaining({ path: "scenario_data.video_data.duration", code: "too_big" }),
    ]);
  });

  it("feeds a tenant's configs and keys with an ETag, and the changes since a number (admin token; the edge signs)", async () => {
    const path = `/api/v1/edge/tenants/${tenant}`;
    expect((await call("GET", path, undefined, "nope")).status).toBe(401);
    const first = await call("GET", path, undefined, ADMIN);
    expect(first.status).toBe(200);
    expect(first.body.configs.length).toBeGreaterThan(0);
    expect(first.body.keys[0]).toHaveProperty("hash");
    const etag = first.headers.get("etag") ?? "";
    const again = await fetch(`${relay.httpUrl}${path}`, {
      headers: { authorization: `Bearer ${ADMIN}`, "if-none-match": etag },
    });
    expect(again.status).toBe(304);
    const changes = await call("GET", "/api/v1/edge/changes?since=0", undefined, ADMIN);
    expect(
      changes.body.changes.filter((c: { tenant_id: string }) => c.tenant_id === tenant).length,
    ).toBeGreaterThan(3);
    const none = await call("GET", `/api/v1/edge/changes?since=${changes.body.next}`, undefined, ADMIN);
    expect(none.body.changes).toEqual([]);
  });

  it("serves the OpenAPI document of the event and admin APIs, and a docs page", async () => {
    const doc = (await (await fetch(`${relay.httpUrl}/api/v1/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, unknown> }>>;
    };
    expect(Object.keys(doc.paths)).toContain("/api/v1/tracking-configs/{tenant_id}/{scenario_id}");
    for (const path of ["track", "track/batch", "validate"]) {
      const post = doc.paths[`/api/v1/behaviors/${path}`]?.post;
      expect(post?.requestBody, path).toBeDefined();
      expect(Object.keys(post?.responses ?? {}), path).toEqual(
        expect.arrayContaining(["200", "400", "401", "403", "429", "503"]),
      );
    }
    expect(JSON.stringify(doc.paths["/api/v1/behaviors/track/batch"])).toContain('"retryable"');
    const page = await fetch(`${relay.httpUrl}/api/v1/docs`);
    expect(page.headers.get("content-type")).toContain("text/html");
  });
});
