// HMAC-SHA256 signatures of webhook deliveries, over `<timestamp>.<body>`, so receivers can reject
// forgeries (wrong signature) and replays (old timestamp). Receivers use `verifySignature`'s logic.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-mailroom-signature';
export const TIMESTAMP_HEADER = 'x-mailroom-timestamp';
export const DELIVERY_HEADER = 'x-mailroom-delivery';
export const EVENT_HEADER = 'x-mailroom-event';

export function sign(secret: string, timestamp: number, body: string): string {
  return 'v1=' + createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/** What a receiver does: recompute, compare in constant time, and refuse old timestamps. */
export function verifySignature(secret: string, header: string | undefined, timestamp: string | undefined, body: string, toleranceSec = 300, now = Date.now()): boolean {
  if (!header || !timestamp || !/^\d+$/.test(timestamp)) return false;
  if (Math.abs(now / 1000 - Number(timestamp)) > toleranceSec) return false;
  const expected = Buffer.from(sign(secret, Number(timestamp), body));
  const got = Buffer.from(header);
  return expected.length === got.length && timingSafeEqual(expected, got);
}
