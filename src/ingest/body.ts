// What a body source yields, for both of them: mailparser (parse.ts) and the tolerant MIME walker
// (mime-walk.ts). It exists so the two agree on which parts are text and on what an unnamed
// attachment is called, since parse.ts merges the walker's findings into mailparser's.
import type { ParsedAttachment } from './parsed-message.js';

export const TEXT_TYPES = new Set(['text/plain', 'text/html', 'message/delivery-status']);

export interface Body { text: string; html: string | null; attachments: ParsedAttachment[] }

const EXT: Record<string, string> = {
  'application/pdf': '.pdf', 'text/plain': '.txt', 'text/html': '.html', 'message/rfc822': '.eml',
  'image/png': '.png', 'image/jpeg': '.jpg', 'image/gif': '.gif', 'message/delivery-status': '.txt',
  'text/rfc822-headers': '.txt', 'text/calendar': '.ics',
};

export function defaultName(index: number, contentType: string): string {
  return `attachment-${index + 1}${EXT[contentType.toLowerCase()] ?? '.bin'}`;
}
