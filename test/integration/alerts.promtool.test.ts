// The Prometheus alerting rules, checked by Prometheus's own tool: they parse and are valid
// (`promtool check rules`), and they fire on the series that should fire them, and only there
// (`promtool test rules` with deploy/prometheus/alerts.test.yml).
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { toolPath } from "../support/tools.ts";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const rules = join(root, "deploy", "prometheus");

const promtool = toolPath("promtool");

describe("the alerting rules, with promtool", () => {
  it("are valid rules", async () => {
    const { stdout } = await run(promtool, ["check", "rules", join(rules, "alerts.yml")]);
    expect(stdout).toContain("SUCCESS: 12 rules found");
  });

  it("fire where their tests say", async () => {
    const { stdout } = await run(promtool, ["test", "rules", join(rules, "alerts.test.yml")]);
    expect(stdout).toContain("SUCCESS");
  });
});
