// Generates src/config/types.generated.ts from the one JSON Schema, so types and schema cannot drift
// (test/unit/schema-drift.test.ts fails when the committed file differs from what this prints).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compile } from 'json-schema-to-typescript';
import { loadSchema } from '../src/config/schema.js';

export async function generateTypes(): Promise<string> {
  const schema = loadSchema();
  return compile(schema as never, 'MailroomConfig', {
    bannerComment:
      '// GENERATED from schemas/mailroom.schema.json by scripts/gen-types.ts: do not edit, run `npm run gen`.\n/* eslint-disable */',
    additionalProperties: false,
    unreachableDefinitions: true,
    format: false,
    style: { singleQuote: true },
  });
}

export const TYPES_FILE = fileURLToPath(new URL('../src/config/types.generated.ts', import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(TYPES_FILE, await generateTypes());
  console.log(`wrote ${TYPES_FILE}`);
}
