// scripts/lib/provision.sh, the one way every tool lands in the cache: built into a staging directory,
// renamed into place, under a lock. Each case runs real shells on an empty cache of its own; the build
// is a stand-in that records each time it runs and takes long enough for the two runs to overlap.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const helper = join(import.meta.dirname, "..", "..", "..", "scripts", "lib", "provision.sh");

/** Provisions the stand-in tool `tool` in `cache`; `builds` counts the builds that ran. */
const provision = (cache: string, build = 'echo built >>"$BUILDS"; sleep 1; echo ok >"$1/tool"') =>
  run("sh", ["-c", `. "${helper}"; build() { ${build}; }; provision tool build`], {
    env: { ...process.env, BEHAVIOR_INGEST_CACHE: cache, BUILDS: join(cache, "..", "builds") },
  });

const emptyCache = () => {
  const dir = mkdtempSync(join(tmpdir(), "provision-"));
  writeFileSync(join(dir, "builds"), "");
  return join(dir, "cache");
};
const buildsIn = (cache: string) =>
  readFileSync(join(cache, "..", "builds"), "utf8")
    .split("\n")
    .filter(Boolean).length;

describe("provisioning a tool into the cache", () => {
  it("two provisionings of an empty cache at once both succeed, and the tool is built once", async () => {
    const cache = emptyCache();
    const [first, second] = await Promise.all([provision(cache), provision(cache)]);
    expect(first.stdout.trim()).toBe(join(cache, "tool"));
    expect(second.stdout.trim()).toBe(join(cache, "tool"));
    expect(readFileSync(join(cache, "tool", "tool"), "utf8")).toBe("ok\n");
    expect(buildsIn(cache)).toBe(1);
    // Nothing left behind but the tool and its lock.
    expect(readdirSync(cache).sort()).toEqual([".tool.lock", "tool"]);
  });

  it("a complete tool is not built again", async () => {
    const cache = emptyCache();
    await provision(cache);
    await provision(cache);
    expect(buildsIn(cache)).toBe(1);
  });

  it("a tool half-built by a killed run is removed and built again", async () => {
    const cache = emptyCache();
    // What a run killed mid-build leaves: a staging directory, and a tool directory with no marker.
    mkdirSync(join(cache, ".tool.staging.abc123"), { recursive: true });
    mkdirSync(join(cache, "tool"));
    writeFileSync(join(cache, "tool", "tool"), "half");
    await provision(cache);
    expect(readFileSync(join(cache, "tool", "tool"), "utf8")).toBe("ok\n");
    expect(existsSync(join(cache, ".tool.staging.abc123"))).toBe(false);
    expect(buildsIn(cache)).toBe(1);
  });

  it("a failed build leaves nothing that looks usable, and says so", async () => {
    const cache = emptyCache();
    const failed = await provision(cache, 'echo partial >"$1/tool"; false').catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed).toMatchObject({ code: 1, stderr: expect.stringContaining("provisioning tool failed") });
    expect(readdirSync(cache)).toEqual([".tool.lock"]);
    await provision(cache);
    expect(readFileSync(join(cache, "tool", "tool"), "utf8")).toBe("ok\n");
  });
});
