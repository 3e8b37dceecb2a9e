import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, inject, it, vi } from "vitest";
import { topicFor } from "../../src/core/index.ts";
import { readTopic } from "../support/kafka.ts";
import { freePort } from "../support/ports.ts";
import { uniqueName } from "../support/random.ts";

const root = join(import.meta.dirname, "..", "..");
const brokers = inject("kafkaBrokers");
const readme = readFileSync(join(root, "README.md"), "utf8");

/** The ```sh blocks of the README section under `heading`. */
const shellBlocks = (heading: string): string[] => {
  const section = readme.split(/^## /m).find((s) => s.startsWith(heading)) ?? "";
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string);
};

/** The repository as a fresh clone has it: the files git tracks (and new ones it would), nothing else. */
const freshCopy = (): string => {
  const dir = mkdtempSync(join(tmpdir(), "readme-e2e-"));
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: root,
    encoding: "utf8",
  })
    .split("\0")
    .filter((f) => f !== "");
  for (const file of files) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    cpSync(join(root, file), join(dir, file), { force: true, errorOnExist: false, recursive: false });
  }
  return dir;
};

/** Runs the README's run command and collects what it prints until `ready` appears. */
const startStack = (cwd: string, command: string, env: NodeJS.ProcessEnv) => {
  const child = spawn("sh", ["-c", `exec ${command}`], { cwd, env, detached: true });
  let output = "";
  const ready = new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("then try the calls")) resolve(output);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code) => reject(new Error(`\`${command}\` exited with ${code}:\n${output}`)));
  });
  return { child, ready, output: () => output };
};

/** Ctrl-C: SIGINT to the whole process group, as a terminal sends it; resolves when npm has exited. */
const stopStack = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    process.kill(-(child.pid as number), "SIGINT");
  });

const exportsOf = (printed: string): Record<string, string> =>
  Object.fromEntries([...printed.matchAll(/^\s*export (\w+)=(\S+)/gm)].map((m) => [m[1], m[2]]));

const answers = async (url: string) =>
  fetch(url).then(
    () => true,
    () => false,
  );

/** The stack's ports, moved to free ones so the test runs beside a developer's `npm run dev`. */
const ports = {
  RELAY_HTTP_PORT: await freePort(),
  RELAY_GRPC_PORT: await freePort(),
  EDGE_PORT: await freePort(),
  DEMO_PORT: await freePort(),
};
/** A README command with the default ports replaced by the test's. */
const onTestPorts = (command: string) =>
  command
    .replaceAll("localhost:8080", `localhost:${ports.RELAY_HTTP_PORT}`)
    .replaceAll("localhost:8787", `localhost:${ports.EDGE_PORT}`);

describe("the README, followed literally on a fresh copy of the repository", () => {
  const dir = freshCopy();
  const env = {
    ...process.env,
    ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)])),
    // The CLI asks this stack's relay, and reads the suite's Kafka.
    BEHAVIOR_INGEST_RELAY: `http://127.0.0.1:${ports.RELAY_HTTP_PORT}`,
    KAFKA_BROKERS: brokers.join(","),
    // Its own database, so configs made by earlier runs on the same server do not answer 409.
    MONGODB_DB: uniqueName("readme"),
  };
  let stack: ReturnType<typeof startStack> | undefined;
  afterAll(async () => {
    if (stack !== undefined) await stopStack(stack.child);
    // What the stack started stops after npm itself: its folder goes once none of them answers.
    for (const port of Object.values(ports)) {
      await vi.waitFor(
        async () => {
          if (await answers(`http://127.0.0.1:${port}/`)) throw new Error(`port ${port} still answers`);
        },
        { timeout: 30_000, interval: 200 },
      );
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("comes up with the run command, takes the quick start's calls, and the event is in Kafka", async () => {
    const [run] = (shellBlocks("Run and test")[0] ?? "").split("\n");
    const command = run?.replace(/#.*/, "").trim() ?? "";
    expect(command).toBe("npm run dev");

    stack = startStack(dir, command, env);
    const printed = await stack.ready;
    const credentials = exportsOf(printed);
    expect(Object.keys(credentials)).toEqual(["ADMIN_TOKEN", "PUBLISHABLE_KEY", "SERVICE_KEY"]);
    expect(printed).toMatch(new RegExp(`relay\\s+http://127\\.0\\.0\\.1:${ports.RELAY_HTTP_PORT}`));
    expect(await answers(`http://127.0.0.1:${ports.DEMO_PORT}/`)).toBe(true); // the demo page

    // `tail --follow` running while the quick start's calls are made: the event shows up live.
    const follower = spawn("sh", ["-c", "exec npm run -s cli -- tail mymx --follow --last 0"], {
      cwd: dir,
      env: { ...env, ...credentials, BEHAVIOR_INGEST_TOKEN: credentials.ADMIN_TOKEN },
    });
    let followed = "";
    follower.stdout.on("data", (chunk: Buffer) => (followed += chunk.toString()));
    follower.stderr.on("data", (chunk: Buffer) => (followed += chunk.toString()));
    await expect.poll(() => followed, { timeout: 60_000 }).toMatch(/following user-behaviors-mymx/);

    // The quick start's commands, exactly as written (on the test's ports), with the printed exports.
    const [calls] = shellBlocks("Quick start");
    const outputs = execFileSync("sh", ["-c", onTestPorts(calls ?? "")], {
      cwd: dir,
      env: { ...env, ...credentials },
      encoding: "utf8",
    })
      .trim()
      .split("\n");
    const config = JSON.parse(outputs[0] ?? "") as Record<string, unknown>;
    const tracked = JSON.parse(outputs[1] ?? "") as Record<string, unknown>;
    expect(config).toMatchObject({ tenant_id: "mymx", scenario_id: "shop_feed", version: 1 });
    expect(tracked).toMatchObject({ success: true, event_id: expect.stringMatching(/^evt_/) });
    // `tail` shows the event that was just tracked.
    expect(outputs.slice(2).join("\n")).toMatch(/\bu_10086 {2}video_8848 {2}play_end {2}vlog_feed/);
    await expect.poll(() => followed, { timeout: 30_000 }).toMatch(/\bu_10086 {2}video_8848 {2}play_end/);
    follower.kill("SIGINT");

    const records = await readTopic(
      brokers,
      topicFor("mymx"),
      1,
      60_000,
      (r) => r.headers.get("event_id") === tracked?.event_id,
    );
    expect(JSON.parse(records[0]?.value ?? "{}")).toMatchObject({
      user_id: "u_10086",
      item_id: "video_8848",
      scenario_data: { video_data: { duration: 185 } },
    });

    // Run again as they are, they still succeed: the config is kept, another event is tracked.
    const again = execFileSync("sh", ["-c", onTestPorts(calls ?? "")], {
      cwd: dir,
      env: { ...env, ...credentials },
      encoding: "utf8",
    }).split("\n");
    expect(JSON.parse(again[0] ?? "")).toMatchObject({ scenario_id: "shop_feed", version: 1 });
    expect(JSON.parse(again[1] ?? "")).toMatchObject({ success: true });

    // Ctrl-C stops everything it started.
    await stopStack(stack.child);
    await expect.poll(() => stack?.output(), { timeout: 60_000 }).toMatch(/^stopped$/m);
    for (const port of [ports.RELAY_HTTP_PORT, ports.EDGE_PORT, ports.DEMO_PORT]) {
      expect(await answers(`http://127.0.0.1:${port}/`)).toBe(false);
    }

    // A second run comes up again with the same credentials.
    stack = startStack(dir, command, env);
    expect(exportsOf(await stack.ready)).toEqual(credentials);
    await stopStack(stack.child);
    await expect.poll(() => stack?.output(), { timeout: 60_000 }).toMatch(/^stopped$/m);
  });
});
