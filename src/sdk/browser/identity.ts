import type { TrackerEnvironment } from "./environment.ts";
import type { TrackerOptions } from "./options.ts";

/**
 * Who and when: the ids the tracker makes (`evt_`, `anon_`, `ses_` + 16 hex), the device's anonymous
 * id, the signed-in user, and the current visit. The anonymous id and the visit are kept in first-party
 * storage per tenant; without storage they last as long as the page.
 */
export const pageIdentity = (
  env: TrackerEnvironment,
  options: Pick<TrackerOptions, "tenantId" | "userId" | "sessionTimeoutMs">,
) => {
  const hex = new Uint8Array(8);
  const newId = (kind = "evt") => {
    env.randomBytes(hex);
    return `${kind}_${Array.from(hex, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  };
  // Outside the stored queue's prefix (`behavior-ingest:<tenant>:`), whose keys other pages adopt as
  // unsent events.
  const anonymousKey = `behavior-ingest-anonymous:${options.tenantId}`;
  const sessionKey = `behavior-ingest-session:${options.tenantId}`;
  const sessionTimeoutMs = options.sessionTimeoutMs ?? 30 * 60_000;
  const read = (key: string) => {
    try {
      return env.storage?.getItem(key) ?? null;
    } catch {
      return null; // storage disabled: ids last as long as the page
    }
  };
  const write = (key: string, value: string) => {
    try {
      env.storage?.setItem(key, value);
    } catch {
      // Storage full or disabled: the id stays in memory, for this page only.
    }
  };

  let userId = options.userId;
  let anonymousId = "";

  /** The device's anonymous id: first-party storage, made once per tenant. */
  const loadAnonymousId = () => {
    anonymousId = read(anonymousKey) ?? newId("anon");
    write(anonymousKey, anonymousId);
  };

  /** The current visit: kept while events come within the timeout, shared by the tenant's tabs. */
  const sessionId = (now: number) => {
    let session: { id: string; seen: number } | undefined;
    try {
      session = JSON.parse(read(sessionKey) ?? "null") ?? undefined;
    } catch {
      // An unreadable stored session (another script wrote the key): a new one starts below.
    }
    if (session === undefined || typeof session.id !== "string" || now - session.seen > sessionTimeoutMs) {
      session = { id: newId("ses"), seen: now };
    }
    session.seen = now;
    write(sessionKey, JSON.stringify(session));
    return session.id;
  };

  return {
    newId,
    loadAnonymousId,
    /** The user fields of an event tracked at `now`. */
    who: (now: number) => ({
      user_id: userId ?? anonymousId,
      anonymous_id: anonymousId,
      session_id: sessionId(now),
    }),
    identify: (id: string) => {
      userId = id;
    },
    /** Forgets the user, the anonymous id and the visit: a new anonymous id now, a new visit with the next event. */
    reset: () => {
      userId = undefined;
      try {
        env.storage?.removeItem(anonymousKey);
        env.storage?.removeItem(sessionKey);
      } catch {
        // Storage disabled: there was nothing stored to forget; the new ids below replace the old.
      }
      loadAnonymousId();
    },
    anonymousId: () => anonymousId,
  };
};
