// The name an attachment is shown and saved by, wherever it leaves mailroom (the API, its downloads'
// Content-Disposition, webhook payloads): the name a sender wrote may be "../../evil .html".
/**
 * The attachment name the API shows, and the one the download's Content-Disposition carries
 * (contentDisposition in ticket-routes.ts) and webhook payloads: clients save files by it, so no path separators
 * ("../../etc/passwd" → ".._.._etc_passwd"), no control characters, NFC, at most 200
 * characters, never empty or only dots.
 */
export function safeFilename(filename: string): string {
  let name = String(filename ?? '')
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
    .normalize('NFC')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, '')
    .replace(/[/\\]/g, '_')
    .trim();
  if ([...name].length > 200) name = [...name].slice(0, 200).join('');
  return name === '' || /^\.+$/.test(name) ? 'attachment' : name;
}

