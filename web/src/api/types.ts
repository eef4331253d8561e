// The API's types, generated from the gateway's OpenAPI document (schema.d.ts: `make web-api-types`).
import type { components } from "./schema";

/** A schema of the public API document by name, e.g. `Schema<"UserOut">`, `Schema<"support__ThreadOut">`. */
export type Schema<Name extends keyof components["schemas"]> = components["schemas"][Name];
