// `npm run build:sdk`: the installable SDK package in packages/sdk (dist/ is built, never committed):
// compiled ES modules of the Node client, the Kafka-direct tracker and the CLI (their npm dependencies
// left to the installer), the browser tracker as an ES module and as one script-tag file, and type
// declarations emitted from the same sources. `npm pack` in packages/sdk then makes the tarball.
import { execFileSync } from "node:child_process";
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { bundleTrackerScript } from "./lib/tracker-bundle.ts";

const root = join(import.meta.dirname, "..");
const pkg = join(root, "packages", "sdk");
const dist = join(pkg, "dist");
rmSync(dist, { recursive: true, force: true });

const src = (path: string) => join(root, "src", path);
const shared = {
  bundle: true,
  format: "esm",
  target: "es2022",
  logLevel: "warning",
  metafile: true,
} as const;

// Node entry points: shared code in chunks, npm packages imported from the installer's node_modules.
const node = await build({
  ...shared,
  platform: "node",
  packages: "external",
  splitting: true,
  entryPoints: {
    core: src("core/index.ts"),
    client: src("sdk/client.ts"),
    "kafka-tracker": src("sdk/kafka-tracker.ts"),
    cli: src("cli/main.ts"),
  },
  outdir: dist,
  chunkNames: "chunks/[name]-[hash]",
});
// The browser tracker imports only types: one self-contained module for bundlers.
await build({
  ...shared,
  platform: "browser",
  entryPoints: { browser: src("sdk/browser.ts") },
  outdir: dist,
});
writeFileSync(join(dist, "tracker.min.js"), await bundleTrackerScript());

/** The npm packages the Node entry points import, which the package must declare. */
export const importedPackages = [
  ...new Set(
    Object.values(node.metafile.outputs)
      .flatMap((output) => output.imports)
      .filter((i) => i.external && !i.path.startsWith("node:"))
      .map((i) =>
        (i.path.startsWith("@") ? i.path.split("/").slice(0, 2) : i.path.split("/").slice(0, 1)).join("/"),
      ),
  ),
].sort();
const declared = Object.keys(
  (JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")) as { dependencies: Record<string, string> })
    .dependencies,
).sort();
if (JSON.stringify(importedPackages) !== JSON.stringify(declared)) {
  throw new Error(
    `packages/sdk/package.json declares ${declared.join(", ")} but the code imports ${importedPackages.join(", ")}`,
  );
}

// Declarations: tsc keeps the sources' `.ts` specifiers in them; the package's files are `.js`.
execFileSync(join(root, "node_modules", ".bin", "tsc"), ["-p", join(pkg, "tsconfig.json")], {
  stdio: "inherit",
});
const rewrite = (dir: string) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) rewrite(path);
    else if (entry.name.endsWith(".d.ts")) {
      writeFileSync(
        path,
        readFileSync(path, "utf8").replace(/(from\s+["']\.{1,2}\/[^"']*?)\.ts(["'])/g, "$1.js$2"),
      );
    }
  }
};
rewrite(join(dist, "types"));
// The generated protobuf code is JavaScript with declarations beside it, which tsc does not emit.
cpSync(join(root, "src", "gen"), join(dist, "types", "gen"), {
  recursive: true,
  filter: (path) => !path.endsWith(".js"),
});
console.log(`built ${dist}`);
