import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  isValidTenantId,
  mayWriteTenant,
  quarantineTopicFor,
  TenantId,
  tenantOfTopic,
  topicFor,
} from "../../src/core/index.ts";

/** Kafka's own rule for a legal topic name. */
const kafkaLegal = (topic: string) =>
  /^[a-zA-Z0-9._-]{1,249}$/.test(topic) && topic !== "." && topic !== "..";

describe("tenant ids and topics", () => {
  it("names the topic user-behaviors-{tenant_id} and its quarantine topic", () => {
    expect(topicFor("mymx")).toBe("user-behaviors-mymx");
    expect(quarantineTopicFor("mymx")).toBe("user-behaviors-mymx-rejected");
  });

  it.each([
    ".",
    "..",
    "__consumer_offsets",
    "a.b",
    "a-b",
    "A",
    "",
    "a".repeat(65),
    "ｍymx",
    "mymx\n",
    " mymx",
    "a/b",
  ])("rejects %j", (tenant) => {
    expect(isValidTenantId(tenant)).toBe(false);
    expect(TenantId.safeParse(tenant).success).toBe(false);
  });

  it("reads the tenant back from its event topic only", () => {
    expect(tenantOfTopic(topicFor("mymx"))).toBe("mymx");
    expect(tenantOfTopic(quarantineTopicFor("mymx"))).toBeUndefined();
    expect(tenantOfTopic("user-behaviors-")).toBeUndefined();
    expect(tenantOfTopic("orders")).toBeUndefined();
  });

  it("maps every accepted tenant to legal Kafka topics that no other tenant can reach", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.string({ maxLength: 80 }), (a, b) => {
        if (!isValidTenantId(a) || !isValidTenantId(b)) return;
        expect(kafkaLegal(topicFor(a)) && kafkaLegal(quarantineTopicFor(a))).toBe(true);
        const topicsOfA = [topicFor(a), quarantineTopicFor(a)];
        if (a !== b) {
          for (const topic of [topicFor(b), quarantineTopicFor(b)]) expect(topicsOfA).not.toContain(topic);
        }
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9][a-z0-9_]{0,63}$/), (tenant) => {
        expect(isValidTenantId(tenant)).toBe(true);
        expect(kafkaLegal(quarantineTopicFor(tenant))).toBe(true);
      }),
    );
  });

  it("lets a credential write its own tenant only, and one bound to no tenant write any", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z0-9][a-z0-9_]{0,63}$/),
        fc.stringMatching(/^[a-z0-9][a-z0-9_]{0,63}$/),
        (own, other) => {
          expect(mayWriteTenant(own, own)).toBe(true);
          expect(mayWriteTenant(own, other)).toBe(own === other);
          expect(mayWriteTenant(null, other)).toBe(true);
        },
      ),
    );
  });
});
