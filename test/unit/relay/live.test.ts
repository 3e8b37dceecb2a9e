import { describe, expect, it } from "vitest";
import type { TailRecord } from "../../../src/kafka/tail.ts";
import { paced } from "../../../src/relay/live.ts";

const record = (offset: number): TailRecord => ({
  topic: "user-behaviors-t",
  partition: 0,
  offset: BigInt(offset),
  timestamp: 0,
  key: "u",
  value: "{}",
});

describe("a live view's pace", () => {
  it("shows at most its events per second and says how many it left out before the next one shown", async () => {
    // Records 0–4 land in second 0, 5–7 in second 1, 8 in second 3: the clock is the record's number.
    const seconds = [0, 0, 0, 0, 0, 1, 1, 1, 3];
    let at = 0;
    async function* landing() {
      for (const [i, second] of seconds.entries()) {
        at = second * 1000 + 1;
        yield record(i);
      }
    }
    const counted: number[] = [];
    const shown = [];
    for await (const item of paced(
      landing(),
      2,
      () => at,
      (n) => counted.push(n),
    ))
      shown.push("skipped" in item ? { skipped: item.skipped } : Number(item.offset));
    expect(shown).toEqual([0, 1, { skipped: 3 }, 5, 6, { skipped: 1 }, 8]);
    expect(counted).toEqual([3, 1]);
  });
});
