/** docs/control-plane-api.schema.json is generated from src/sync/contract.ts; keep the checked-in file current. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { API_SCHEMA_PATH, buildApiSchema, renderApiSchema } from "../../scripts/gen-api-schema.ts";
import { OPERATIONS } from "../../src/sync/contract.ts";

const file = fileURLToPath(new URL(`../../${API_SCHEMA_PATH}`, import.meta.url));

describe("control-plane API JSON Schema", () => {
  it("the checked-in file equals a fresh generation", () => {
    const checkedIn = readFileSync(file, "utf8");
    expect(checkedIn === renderApiSchema(), `${API_SCHEMA_PATH} is stale: run \`.cache/node/bin/node scripts/gen-api-schema.ts\` and commit the result`).toBe(true);
  });

  it("describes every operation with method, path and schemas, plus the error body", () => {
    const doc = buildApiSchema() as { operations: Record<string, { method: string; path: string; request: unknown; response: { additionalProperties?: boolean } }>; errorResponse: unknown; version: string };
    expect(doc.version).toBe("v1");
    expect(Object.keys(doc.operations)).toEqual(Object.keys(OPERATIONS));
    for (const [name, op] of Object.entries(OPERATIONS)) {
      expect(doc.operations[name]).toMatchObject({ method: op.method, path: op.path });
      expect(doc.operations[name]!.request === null).toBe(op.request === null);
      // Lenient in what we read: a newer control plane may add response fields (requests stay strict).
      expect(doc.operations[name]!.response.additionalProperties).toBeUndefined();
      if (op.request !== null) expect((doc.operations[name]!.request as { additionalProperties?: boolean }).additionalProperties).toBe(false);
    }
    expect(renderApiSchema().endsWith("}\n")).toBe(true);
  });
});
