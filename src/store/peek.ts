// Why this file exists: read-only looks into a store a running daemon holds (test-mailbox checks the
// daemon's OAuth2 state without taking the embedded store's lock or writing anything).
import type { ResolvedStore } from '../config/snapshot.js';
import type { MailboxOAuthState } from './control-types.js';
import { OAuthFileStore } from './embedded/oauth-files.js';
import { openStores } from './open.js';

export interface StatePeek {
  /** where the state lives, for messages (a directory, or the database) */
  where: string;
  oauthState(mailbox: string): Promise<MailboxOAuthState>;
}

export function peekStore(config: ResolvedStore): StatePeek {
  if (config.driver === 'lowdb') {
    const files = new OAuthFileStore(config.path);
    return { where: files.dir, oauthState: (m) => files.load(m) };
  }
  return {
    where: `the PostgreSQL store (schema ${config.schema})`,
    async oauthState(mailbox) {
      const stores = await openStores(config);
      try {
        return (await stores.control.oauthState(mailbox)).state;
      } finally {
        await stores.close();
      }
    },
  };
}
