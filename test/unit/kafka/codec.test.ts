import { describe, expect, it } from "vitest";
import { codecFor } from "../../../src/kafka/producer.ts";
import { WRITE_PATH_DEFAULTS } from "../../../src/kafka/writer.ts";

describe("the codec of a produce request, by the bytes it carries per topic", () => {
  it("sends a record alone uncompressed, a few with the small codec, ~100 events and more with the large", () => {
    const pick = (bytes: number) => codecFor(bytes, WRITE_PATH_DEFAULTS);
    expect([pick(700), pick(1023)]).toEqual(["none", "none"]);
    expect([pick(1024), pick(64 * 1024 - 1)]).toEqual(["lz4", "lz4"]);
    expect([pick(64 * 1024), pick(900_000)]).toEqual(["zstd", "zstd"]);
  });

  it("follows the settings", () => {
    expect(codecFor(100_000, { compression: "gzip", compressionSmall: "snappy" })).toBe("gzip");
    expect(codecFor(10_000, { compression: "gzip", compressionSmall: "snappy" })).toBe("snappy");
  });
});
