import { join } from "node:path";
import { build } from "esbuild";

/** The browser tracker as pages load it: one minified ES module, built from src/sdk/browser.ts. */
export const bundleTracker = async (): Promise<string> => {
  const result = await build({
    entryPoints: [join(import.meta.dirname, "..", "..", "src", "sdk", "browser.ts")],
    bundle: true,
    minify: true,
    format: "esm",
    target: "es2020",
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles[0]?.text ?? "";
};
