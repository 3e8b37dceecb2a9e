// The SDK as a team installs it: `npm pack` of packages/sdk, installed into a scratch project from the
// tarball, imported under plain Node and bundled for the browser by esbuild, tracking through a real
// relay and Kafka.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { runInNewContext } from "node:vm";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { topicFor } from "../../src/core/index.ts";
import { readTopic } from "../support/kafka.ts";
import { uniqueName } from "../support/random.ts";
import { startTestRelay } from "../support/relay.ts";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const brokers = inject("kafkaBrokers");
const KEY = `svc_${uniqueName("pkg")}`;

describe("the SDK package, packed, installed in a scratch project and used", () => {
  let project: string;
  let tarball: string;

  beforeAll(async () => {
    await run(process.execPath, [join(root, "scripts", "build-sdk.ts")], { cwd: root });
    const packDir = await mkdtemp(join(tmpdir(), "sdk-pack-"));
    const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", packDir], {
      cwd: join(root, "packages", "sdk"),
    });
    const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    tarball = join(packDir, packed?.filename as string);
    // What ships: the built files, the changelog, the readme; no sources, tests or benches.
    const shipped = (packed?.files ?? []).map((f) => f.path);
    expect(shipped).toEqual(
      expect.arrayContaining(["dist/client.js", "dist/tracker.min.js", "CHANGELOG.md"]),
    );
    expect(shipped.filter((f) => !/^(dist\/|CHANGELOG\.md$|README\.md$|package\.json$)/.test(f))).toEqual([]);

    project = await mkdtemp(join(tmpdir(), "sdk-scratch-"));
    await writeFile(
      join(project, "package.json"),
      JSON.stringify({ name: "scratch", private: true, type: "module" }),
    );
    // With the repository's @types/node, as a Node project in TypeScript has.
    const typesNode = JSON.parse(await readFile(join(root, "package.json"), "utf8")).devDependencies[
      "@types/node"
    ];
    await run(
      "npm",
      ["install", "--no-audit", "--no-fund", "--prefer-offline", tarball, `@types/node@${typesNode}`],
      {
        cwd: project,
        timeout: 240_000,
      },
    );
  }, 300_000);

  it("declares the versions the repository is tested with", async () => {
    const sdk = JSON.parse(await readFile(join(root, "packages", "sdk", "package.json"), "utf8"));
    const repo = JSON.parse(await readFile(join(root, "package.json"), "utf8"));
    for (const [name, version] of Object.entries(sdk.dependencies as Record<string, string>)) {
      expect(`${name}@${version}`).toBe(`${name}@${repo.dependencies[name]}`);
    }
  });

  it("tracks through the relay with the Node client and into Kafka with the Kafka-direct tracker, under plain Node", async () => {
    const tenant = uniqueName("pkg");
    const relay = await startTestRelay(brokers, [`${KEY}=*`]);
    try {
      await writeFile(
        join(project, "use.mjs"),
        `import { BehaviorClient } from "@behavior-ingest/sdk/client";
import { KafkaTracker } from "@behavior-ingest/sdk/kafka-tracker";
import { createTracker } from "@behavior-ingest/sdk/browser";
import { validateEvent } from "@behavior-ingest/sdk/core";
const [url, key, tenant, brokers, spoolDir] = process.argv.slice(2);
const client = new BehaviorClient({ transport: "http", url, apiKey: key, tenantId: tenant, context: { device_type: "pc" } });
const viaRelay = await client.trackVideoPlay({ scenario_id: "feed", user_id: "u_pkg", item_id: "v_relay" }, { duration: 10 });
const direct = await KafkaTracker.open({ brokers: brokers.split(","), tenantId: tenant, spoolDir });
const viaKafka = await direct.track({ scenario_id: "feed", user_id: "u_pkg", item_id: "v_direct", action_type: "click", context: { device_type: "pc" } });
await direct.close();
const checked = validateEvent({ tenant_id: tenant, scenario_id: "feed", user_id: "u", item_id: "i", action_type: "swipe", context: { device_type: "pc" } });
console.log(JSON.stringify({ viaRelay, viaKafka, browser: typeof createTracker, refused: checked.errors.map((e) => e.path) }));
`,
      );
      const { stdout } = await run(
        process.execPath,
        [
          "use.mjs",
          relay.httpUrl,
          KEY,
          tenant,
          brokers.join(","),
          await mkdtemp(join(tmpdir(), "sdk-spool-")),
        ],
        { cwd: project, timeout: 60_000 },
      );
      const outcome = JSON.parse(stdout);
      expect(outcome).toMatchObject({
        viaRelay: { success: true },
        viaKafka: { ok: true },
        browser: "function",
        refused: ["action_type"],
      });
      const records = await readTopic(brokers, topicFor(tenant), 2);
      expect(records.map((r) => JSON.parse(r.value).item_id).sort()).toEqual(["v_direct", "v_relay"]);
    } finally {
      await relay.close();
    }
  });

  it("type-checks a TypeScript user of every entry", async () => {
    await writeFile(
      join(project, "use.ts"),
      `import { type Tracker, createTracker } from "@behavior-ingest/sdk/browser";
import { BehaviorClient } from "@behavior-ingest/sdk/client";
import { KafkaTracker } from "@behavior-ingest/sdk/kafka-tracker";
const tracker: Tracker = createTracker({ endpoint: "https://e.example", key: "pk_x", tenantId: "t", scenarioId: "s" });
tracker.identify("u_1");
// @ts-expect-error: an action that does not exist
tracker.track({ item_id: "i", action_type: "swipe" });
export const client = new BehaviorClient({ transport: "grpc", url: "http://127.0.0.1:1", apiKey: "k", tenantId: "t" });
export const opened: Promise<KafkaTracker> = KafkaTracker.open({ brokers: [], tenantId: "t", spoolDir: "/tmp" });
`,
    );
    await writeFile(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "nodenext",
          moduleResolution: "nodenext",
          strict: true,
          noEmit: true,
          lib: ["es2023", "dom"],
          types: ["node"],
          // Declarations are checked, so an error in ours shows; other packages' are not ours to fix.
          skipLibCheck: false,
        },
        files: ["use.ts"],
      }),
    );
    const output = await run(
      process.execPath,
      [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"],
      { cwd: project },
    ).then(
      () => "",
      (error: { stdout: string }) => error.stdout,
    );
    const ours = output
      .split("\n")
      .filter((line) => /^(use\.ts|node_modules\/@behavior-ingest\/)/.test(line));
    expect(ours).toEqual([]);
  });

  it("bundles for the browser with esbuild, and ships a script-tag file of at most 5 KB gzipped", async () => {
    await writeFile(
      join(project, "page.js"),
      `import { createTracker } from "@behavior-ingest/sdk/browser";\nwindow.tracker = createTracker({ endpoint: "https://e.example", key: "pk_x", tenantId: "t", scenarioId: "s" });\n`,
    );
    const bundled = await build({
      entryPoints: [join(project, "page.js")],
      bundle: true,
      platform: "browser",
      write: false,
      absWorkingDir: project,
      logLevel: "silent",
    });
    const code = bundled.outputFiles[0]?.text ?? "";
    expect(code).toContain("behavior-ingest-anonymous:");
    expect(code).not.toMatch(/require\(|from\s*"node:/);
    const script = await readFile(
      join(project, "node_modules", "@behavior-ingest", "sdk", "dist", "tracker.min.js"),
    );
    expect(gzipSync(script, { level: 9 }).length).toBeLessThanOrEqual(5 * 1024);
    const context: Record<string, unknown> = {};
    runInNewContext(script.toString(), context);
    expect(typeof (context.BehaviorIngest as { createTracker?: unknown })?.createTracker).toBe("function");
  });

  it("installs the CLI as a bin", async () => {
    const { stdout } = await run(join(project, "node_modules", ".bin", "behavior-ingest"), ["--help"], {
      cwd: project,
      env: { ...process.env, PATH: `${join(process.execPath, "..")}:${process.env.PATH}` },
    });
    expect(stdout).toMatch(/^Usage: behavior-ingest \[options\] \[command\]\n\ntracking configs, API keys/);
  });
});
