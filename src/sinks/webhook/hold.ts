// What a ticket's status means for its webhook deliveries, decided purely. A held ticket stays out
// of the queue until approved: its deliveries are recorded (durably, so approval after a restart
// still sends them) but not sent; approval sends them, a rejection never does. Mail whose route
// dropped it gets no deliveries at all (the pipeline gives it none); a dropped ticket's are cancelled
// should any reach the queue.
export type HeldFate = 'pending' | 'held' | 'cancelled';

export function fateForTicket(ticketStatus: string | null | undefined): HeldFate {
  if (ticketStatus === 'held') return 'held';
  if (ticketStatus === 'rejected' || ticketStatus === 'dropped') return 'cancelled';
  return 'pending'; // open, or unknown (the dispatcher reports a ticket missing from the store)
}
