// Why this file exists: what a transport (SMTP pool, Graph, Gmail) reports of one accepted send, in
// a file of its own so the transports and the pool that dispatches to them share it without a cycle.
export interface SendResult {
  response: string;
  accepted: string[];
  rejectedErrors: { recipient: string; responseCode: number | null; response: string }[];
}
