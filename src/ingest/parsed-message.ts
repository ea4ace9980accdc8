// Shape of a parsed e-mail as the rest of mailroom sees it. It exists as its own module so that
// routing, ticketing and the worker pool can share the types without importing mailparser, and
// everything in it is plain data (strings, arrays, Uint8Array) so it survives structuredClone /
// postMessage between worker_threads unchanged.

export interface Address {
  name: string;
  /** local@domain with the domain part lower-cased; '' when the header gave a name but no address */
  address: string;
}

export interface ParsedAttachment {
  /** sha256 hex of the full decoded content (also when `content` was dropped for size) */
  id: string;
  filename: string;
  contentType: string;
  /** decoded byte length of the full content */
  size: number;
  /** Content-ID without <> */
  contentId?: string;
  inline: boolean;
  /** decoded content; empty when over `maxAttachmentBytes` */
  content: Uint8Array;
}

export interface ParsedMessage {
  /** without <>; null if absent/unparseable */
  messageId: string | null;
  /** ids without <> */
  inReplyTo: string[];
  references: string[];
  /** '' if none, RFC 2047 decoded */
  subject: string;
  from: Address | null;
  to: Address[];
  cc: Address[];
  replyTo: Address[];
  /** ISO 8601, from the Date header when valid */
  date: string | null;
  /** lower-cased header names → decoded values (all occurrences, in order), for routing rules */
  headers: Record<string, string[]>;
  /** plain text body (converted from html if there is only html) */
  text: string;
  html: string | null;
  /**
   * `html` sanitised for display (sanitize-html.ts), computed by parseMessage: null when there is no
   * html or it is over MAX_SANITIZE_HTML_CHARS ('html-too-large'); absent when not computed
   * (parseFallback on the main thread), and the API then treats the article like an old one.
   */
  safeHtml?: string | null;
  attachments: ParsedAttachment[];
  /** raw byte length */
  size: number;
  /** top-level, lower-cased, e.g. 'multipart/report' */
  contentType: string;
  /**
   * Machine-readable notes, e.g. 'unparsed', 'timeout', 'charset-fallback:windows-1252' (all of a
   * text read as 1252), 'invalid-utf8:windows-1252' (only its invalid bytes), 'unknown-charset:x-foo',
   * 'header-charset-fallback:windows-1252', 'header-invalid-utf8:windows-1252', 'invalid-encoded-word',
   * 'possible-nul-bytes' (0x80 in a part declared UTF-8/ASCII: Dovecot's IMAP NUL), 'invalid-base64',
   * 'control-chars' (stripped), 'subject-truncated', 'no-message-id', 'nul-bytes', 'truncated-headers',
   * 'missing-boundary', 'body-recovered', 'attachment-too-large:<filename>', 'html-too-large',
   * 'worker-crashed', 'worker-timeout'.
   */
  problems: string[];
}

export interface ParseOptions {
  /** attachments larger than this keep their metadata but get an empty `content` */
  maxAttachmentBytes?: number;
  /** give up on mailparser after this long and use the tolerant fallback (default 5000 + 100 per MB) */
  timeoutMs?: number;
}
