// Where the provisioned tools are. `npm test` provisions them before vitest starts
// (scripts/provision.sh); a test only looks them up and fails with the command to run when one is missing.
import { execFileSync } from "node:child_process";
import { join } from "node:path";

const script = join(import.meta.dirname, "..", "..", "scripts", "provision.sh");

export const toolPath = (tool: "python" | "promtool"): string =>
  execFileSync("bash", [script, "path", tool], { encoding: "utf8" }).trim();
