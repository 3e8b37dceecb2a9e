import { randomBytes } from "node:crypto";

/** A name no other test (or earlier run) uses: tests never see each other's data. */
export const uniqueName = (prefix: string): string => `${prefix}_${randomBytes(6).toString("hex")}`;
