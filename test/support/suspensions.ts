// Why this file exists: the daemon's suspension state (inbound/suspension-store.ts) over the embedded
// store's control part, opened on a directory without the whole store (the files need no lock).
import { SuspensionStore } from '../../src/inbound/suspension-store.js';
import { OAuthStateStore } from '../../src/oauth/token-state.js';
import { EmbeddedControl } from '../../src/store/embedded/control.js';
import { Counters } from '../../src/store/embedded/counters.js';
import { OAuthFileStore, VersionedOAuthFiles } from '../../src/store/embedded/oauth-files.js';
import { SuspensionFileStore } from '../../src/store/embedded/suspension-file.js';

export async function openSuspensions(dir: string): Promise<SuspensionStore> {
  const control = new EmbeddedControl(await SuspensionFileStore.open(dir), new VersionedOAuthFiles(new OAuthFileStore(dir)), await Counters.open(dir));
  return SuspensionStore.over(control);
}

/** The OAuth2 state store the daemon uses, over the embedded store's files in `dir`. */
export function oauthStateIn(dir: string): OAuthStateStore {
  return new OAuthStateStore(new VersionedOAuthFiles(new OAuthFileStore(dir)));
}
