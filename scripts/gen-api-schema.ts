/**
 * Generate docs/control-plane-api.schema.json from the contract (src/sync/contract.ts) with
 * zod 4's `z.toJSONSchema`: one document `{ $schema, title, version, operations: { <name>:
 * { method, path, request, response } }, errorResponse }` (JSON Schema draft 2020-12).
 *
 *   .cache/node/bin/node scripts/gen-api-schema.ts          # rewrite the file
 *   .cache/node/bin/node scripts/gen-api-schema.ts --check  # exit 1 if the file is stale
 *
 * test/control-plane/schema-snapshot.test.ts keeps the checked-in file equal to this output.
 * Key order is stable: the document's own keys and the operations keep the order above and of
 * OPERATIONS; inside each schema, keys are sorted, except property maps, which keep the
 * contract's field order. Refinements (the skill file path rule) have no JSON Schema form and
 * are absent.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { API_VERSION, errorResponseSchema, OPERATIONS } from "../src/sync/contract.ts";

/** Where the generated document lives, relative to the repository root. */
export const API_SCHEMA_PATH = "docs/control-plane-api.schema.json";

const DRAFT = "https://json-schema.org/draft/2020-12/schema";

/** Sort object keys recursively (arrays keep their order; `properties` maps keep field order). */
function stable(value: unknown, inProperties = false): unknown {
  if (Array.isArray(value)) return value.map((v) => stable(v));
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value as Record<string, unknown>);
  if (!inProperties) entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([k, v]) => [k, stable(v, !inProperties && k === "properties")]));
}

/**
 * JSON Schema of one zod schema, keys stabilised, without its own `$schema` (the document names
 * the draft once). Responses are rendered as what the daemon accepts (`io: "input"`): their
 * objects allow additional properties, which the daemon ignores; requests are strict.
 */
function schemaOf(s: z.ZodType, io: "input" | "output" = "output"): unknown {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { target: "draft-2020-12", io }) as Record<string, unknown>;
  return stable(rest);
}

/** The whole document as an object. Pure. */
export function buildApiSchema(): Record<string, unknown> {
  const operations = Object.fromEntries(
    Object.entries(OPERATIONS).map(([name, op]) => [
      name,
      { method: op.method, path: op.path, request: op.request === null ? null : schemaOf(op.request), response: schemaOf(op.response, "input") },
    ]),
  );
  return {
    $schema: DRAFT,
    title: `agent-supervisor control-plane API ${API_VERSION}`,
    version: API_VERSION,
    operations,
    errorResponse: schemaOf(errorResponseSchema, "input"),
  };
}

/** The document as the checked-in file's text: 2-space JSON with a trailing newline. Pure. */
export function renderApiSchema(): string {
  return `${JSON.stringify(buildApiSchema(), null, 2)}\n`;
}

if (import.meta.main) {
  const file = fileURLToPath(new URL(`../${API_SCHEMA_PATH}`, import.meta.url));
  const text = renderApiSchema();
  if (process.argv.includes("--check")) {
    let current = "";
    try {
      current = readFileSync(file, "utf8");
    } catch {
      // missing counts as stale
    }
    if (current !== text) {
      process.stderr.write(`${API_SCHEMA_PATH} is stale; run: .cache/node/bin/node scripts/gen-api-schema.ts\n`);
      process.exitCode = 1;
    }
  } else {
    writeFileSync(file, text);
    process.stderr.write(`wrote ${API_SCHEMA_PATH}\n`);
  }
}
