// The stand-in for a message over maxMessageSize: its real header block (all that was fetched) with
// a short text body saying so. The top-level Content-* fields are renamed to
// X-Mailroom-Original-Content-*: left as they were, a `multipart/*` or base64 Content-Type would make
// the parser read the note as a broken MIME body (a bogus attachment); renamed, they stay on record
// and the stand-in parses as the plain text it is.
const CRLF = '\r\n';

export function tooBigStandIn(header: Buffer, size: number, limit: number): Buffer {
  // latin1 maps bytes 1:1, so 8-bit header bytes survive untouched
  const lines = header.toString('latin1').split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const fields = lines.map((l) => (/^content-[a-z0-9-]*[ \t]*:/i.test(l) ? `X-Mailroom-Original-${l}` : l));
  const note = `[message of ${size} bytes over maxMessageSize ${limit}: body not fetched]`;
  return Buffer.from([...fields, 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 7bit', '', note, ''].join(CRLF), 'latin1');
}
