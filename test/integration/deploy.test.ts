// The deployment files in deploy/: the Kubernetes manifests validate against the Kubernetes API's own
// schemas (kubernetes-validate, strict: no unknown fields), and the Containerfile builds from files that
// exist and runs what the build produces.
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { toolPath } from "../support/tools.ts";

const root = join(import.meta.dirname, "..", "..");
const run = promisify(execFile);

describe("deploy/", () => {
  let validate: (file: string) => Promise<{ ok: boolean; output: string }>;

  beforeAll(() => {
    const python = toolPath("python");
    validate = (file) =>
      run(python, ["-m", "kubernetes_validate", "--strict", "--kubernetes-version", "1.33.0", file]).then(
        ({ stdout, stderr }) => ({ ok: true, output: stdout + stderr }),
        (error: { stdout: string; stderr: string }) => ({ ok: false, output: error.stdout + error.stderr }),
      );
  });

  it("the Kubernetes manifests are valid: a StatefulSet with a spool volume per relay, a Service, a ConfigMap", async () => {
    const { ok, output } = await validate(join(root, "deploy", "kubernetes", "relay.yaml"));
    expect(ok, output).toBe(true);
    for (const resource of [
      "configmap/behavior-relay",
      "statefulset/behavior-relay",
      "service/behavior-relay",
    ])
      expect(output).toContain(`passed for resource ${resource}`);
  }, 60_000);

  it("the validator refuses a broken manifest (so the check above can fail)", async () => {
    const broken = join(await mkdtemp(join(tmpdir(), "k8s-")), "broken.yaml");
    const manifest = readFileSync(join(root, "deploy", "kubernetes", "relay.yaml"), "utf8").replace(
      "replicas: 3",
      "replicas: three",
    );
    await writeFile(broken, manifest);
    const { ok, output } = await validate(broken);
    expect(ok).toBe(false);
    expect(output).toContain("spec.replicas");
  }, 60_000);

  it("the Containerfile copies files that exist and runs the relay the build produces, as non-root with a health check", () => {
    const containerfile = readFileSync(join(root, "deploy", "Containerfile"), "utf8");
    const copied = [...containerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) =>
      (m[1] as string).split(" "),
    );
    expect(copied.length).toBeGreaterThan(3);
    for (const path of copied) expect(existsSync(join(root, path)), path).toBe(true);
    // tsconfig.build.json compiles src/ into dist/: src/relay/main.ts becomes dist/relay/main.js.
    const build = readFileSync(join(root, "tsconfig.build.json"), "utf8");
    expect(build).toMatch(/"outDir": "dist"/);
    expect(build).toMatch(/"rootDir": "src"/);
    expect(existsSync(join(root, "src", "relay", "main.ts"))).toBe(true);
    expect(containerfile).toMatch(/CMD \["node", "--max-old-space-size=1024", "dist\/relay\/main.js"\]/);
    expect(containerfile).toMatch(/^USER node$/m);
    expect(containerfile).toContain("/readyz");
  });
});
