// Why this file exists: the API sessions (Graph, Gmail) are written against the store's SyncPort and
// a Fence. Until every caller gets `ctx.sync`/`ctx.fence` from the daemon, this adapter gives them
// one over the embedded TicketStore; once the daemon passes them, it goes.
import { soleOwner, type Fence, type SyncPort } from '../store/port.js';
import type { SessionContext } from './session.js';

export function syncPortOf(ctx: SessionContext): { sync: SyncPort; fence: Fence } {
  const fence = ctx.fence ?? soleOwner(ctx.mailbox.id);
  if (ctx.sync) return { sync: ctx.sync, fence };
  const s = ctx.store;
  return {
    fence,
    sync: {
      checkpoint: async (m, f) => s.getCheckpoint(m, f),
      resetCheckpoint: (m, f, v) => s.resetCheckpoint(m, f, v),
      cursor: async (m, f) => s.getCursor(m, f),
      saveCursor: (m, f, v) => s.saveCursor(m, f, v),
      resetCursor: (m, f) => s.resetCursor(m, f),
      knownKeys: async (keys) => new Set(keys.filter((k) => s.hasKey(k))),
      uidls: async (m) => s.uidls(m),
      pruneUidls: (m, keep) => s.pruneUidls(m, keep),
      pendingActions: async (m) => s.pendingActions(m),
      completeActions: (ids) => s.completeActions(ids),
    },
  };
}
