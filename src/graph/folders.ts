// Why this file exists: a configured Graph folder (a well-known name, or a display path such as
// `Support/Orders`) to the folder id the API wants, creating the path when asked (afterFetch: move).
import type { GraphClient } from './client.js';
import { isGraphError } from './client.js';
import { isWellKnownFolder } from './delta.js';

interface Folder {
  id: string;
  displayName: string;
}

const odataString = (s: string) => `'${s.replace(/'/g, "''")}'`;

export async function resolveFolder(client: GraphClient, path: string, opts: { create?: boolean; signal?: AbortSignal } = {}): Promise<string | null> {
  if (isWellKnownFolder(path)) {
    const f = await client.json<Folder>({ path: `/mailFolders/${encodeURIComponent(path.toLowerCase())}`, ...(opts.signal && { signal: opts.signal }) });
    return f.id;
  }
  let parent: string | null = null;
  for (const part of path.split('/').filter(Boolean)) {
    const list: string = parent ? `/mailFolders/${encodeURIComponent(parent)}/childFolders` : '/mailFolders';
    const found = await client.json<{ value: Folder[] }>({ path: `${list}?$filter=${encodeURIComponent(`displayName eq ${odataString(part)}`)}`, ...(opts.signal && { signal: opts.signal }) });
    let id = found.value.find((f) => f.displayName === part)?.id ?? null;
    if (!id) {
      if (!opts.create) return null;
      try {
        id = (await client.json<Folder>({ method: 'POST', path: list, json: { displayName: part }, ...(opts.signal && { signal: opts.signal }) })).id;
      } catch (e) {
        if (!isGraphError(e, 409)) throw e; // created meanwhile: look again
        id = (await client.json<{ value: Folder[] }>({ path: `${list}?$filter=${encodeURIComponent(`displayName eq ${odataString(part)}`)}` })).value[0]?.id ?? null;
        if (!id) throw e;
      }
    }
    parent = id;
  }
  return parent;
}
