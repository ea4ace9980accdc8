// Writes schemas/openapi.json, the OpenAPI 3.1 contract of the HTTP API, from src/http/openapi-document.ts
// (which builds it from the request and response schemas in schemas/api/). The daemon serves the same
// text at GET /openapi.json; test/unit/openapi.test.ts fails when the committed file differs.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openApiText } from '../src/http/openapi-document.js';

export const OPENAPI_FILE = fileURLToPath(new URL('../schemas/openapi.json', import.meta.url));

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(OPENAPI_FILE, openApiText());
  console.log(`wrote ${OPENAPI_FILE}`);
}
