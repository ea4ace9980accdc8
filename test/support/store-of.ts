// Why this file exists: tests look into a running daemon's embedded ticket store (its parts, behind
// the store port) to count and read what was committed.
import type { Daemon } from '../../src/daemon/daemon.js';
import type { EmbeddedStores } from '../../src/store/embedded/stores.js';
import type { TicketStore } from '../../src/store/ticket-store.js';

export function ticketStoreOf(d: { stores: Daemon['stores'] }): TicketStore {
  const s = d.stores as EmbeddedStores | null;
  if (!s?.parts) throw new Error('the daemon runs no embedded store');
  return s.parts.tickets;
}
