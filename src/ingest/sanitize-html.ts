// Why this file exists: the API hands mail HTML to platform front-ends, which will render it. Mail
// HTML is attacker-controlled, so it goes through an allowlist (sanitize-html, not a hand-written
// parser): formatting tags only; no script/style/iframe/object/form/svg/math (their content is
// dropped too); no event handlers, no style or class attributes (no CSS tricks); links only to
// http(s):, mailto: and tel: (and opened with rel=noopener); images only from cid: or data:image/*
// (raster types) — every other image is removed, so rendering the HTML loads nothing from outside.
//
// It lives in ingest because it runs there: sanitize-html's cost grows faster than linearly with
// nesting (htmlparser2 unshifts every open tag onto its stack: 960 KB of '<b>' took 32 s), so it
// runs in the parse workers (timeout, memory cap) and its result is stored with the article. The
// API never sanitises more than LEGACY_SANITIZE_MAX_CHARS on its own thread.
import sanitizeHtml from 'sanitize-html';

/**
 * HTML longer than this (UTF-16 code units, i.e. ~256 KiB of ASCII markup) is not sanitised at all:
 * the article shows its text only and is flagged 'html-too-large'. The worst case below it (a wall
 * of unclosed tags) costs ~2 s in a parse worker; ordinary newsletters are 20–150 KB.
 */
export const MAX_SANITIZE_HTML_CHARS = 256 * 1024;
/**
 * Articles stored before HTML was sanitised at ingest carry no sanitised copy: the API sanitises
 * them on the main thread only up to this size (worst case ~0.1 s, then cached), else text only.
 */
export const LEGACY_SANITIZE_MAX_CHARS = 64 * 1024;

const ALLOWED_TAGS = [
  'a', 'abbr', 'address', 'article', 'aside', 'b', 'bdi', 'bdo', 'blockquote', 'br', 'caption', 'center', 'cite',
  'code', 'col', 'colgroup', 'dd', 'del', 'details', 'dfn', 'div', 'dl', 'dt', 'em', 'figcaption', 'figure',
  'font', 'footer', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'header', 'hr', 'i', 'img', 'ins', 'kbd', 'li', 'main',
  'mark', 'nav', 'ol', 'p', 'pre', 'q', 's', 'samp', 'section', 'small', 'span', 'strike', 'strong', 'sub',
  'summary', 'sup', 'table', 'tbody', 'td', 'tfoot', 'th', 'thead', 'time', 'tr', 'tt', 'u', 'ul', 'var', 'wbr',
];

/** Tags removed together with everything inside them (sanitize-html would otherwise keep their text). */
const DROP_WITH_CONTENT = [
  'script', 'style', 'textarea', 'option', 'noscript', 'title', 'head', 'template', 'iframe', 'frame',
  'frameset', 'object', 'embed', 'applet', 'svg', 'math', 'xmp', 'noembed', 'noframes', 'select', 'button',
  'canvas', 'video', 'audio', 'plaintext', 'xml',
];

const CELL_ATTRS = ['colspan', 'rowspan', 'align', 'valign', 'width', 'height', 'nowrap'];

const ALLOWED_ATTRIBUTES: Record<string, string[]> = {
  '*': ['dir', 'lang', 'title'],
  a: ['href', 'target', 'rel'], // target/rel are set by the transform below, never taken from the mail
  img: ['src', 'alt', 'width', 'height'],
  table: ['border', 'cellpadding', 'cellspacing', 'width', 'align', 'summary'],
  td: CELL_ATTRS,
  th: [...CELL_ATTRS, 'scope'],
  col: ['span', 'width', 'align', 'valign'],
  colgroup: ['span', 'width', 'align', 'valign'],
  tr: ['align', 'valign'],
  tbody: ['align', 'valign'],
  thead: ['align', 'valign'],
  tfoot: ['align', 'valign'],
  ol: ['start', 'type', 'reversed'],
  li: ['value'],
  font: ['color', 'size', 'face'],
  time: ['datetime'],
};

/** Browsers ignore ASCII whitespace and control characters inside a scheme ("java\tscript:"). */
function compact(url: string): string {
  // eslint-disable-next-line no-control-regex
  return url.replace(/[\u0000-\u0020\u007f-\u009f\u00ad\u200b-\u200f\u2028\u2029\ufeff]+/g, '');
}

const LINK_RE = /^(?:https?:\/\/[^/\\]|mailto:|tel:)/i;
const CID_RE = /^cid:[^\s"'<>\\]+$/i;
/** Raster images only: an SVG could carry script or external references of its own. */
const DATA_IMG_RE = /^data:image\/(?:png|gif|jpe?g|webp|bmp);base64,[a-z0-9+/]+=*$/i;

export function isSafeLink(href: string): boolean {
  return LINK_RE.test(compact(href));
}

export function isSafeImageSource(src: string): boolean {
  const s = compact(src);
  return CID_RE.test(s) || DATA_IMG_RE.test(s);
}

/** Tag value sizes that would let one attribute stand in for a style trick (e.g. width="99999"). */
function boundedSize(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const m = /^\s*(\d{1,4})(%?)\s*$/.exec(v);
  return m ? `${m[1]}${m[2]}` : undefined;
}

const OPTIONS: sanitizeHtml.IOptions = {
  allowedTags: ALLOWED_TAGS,
  allowedAttributes: ALLOWED_ATTRIBUTES,
  allowedClasses: {},
  allowedStyles: {},
  parseStyleAttributes: false,
  allowedSchemes: ['http', 'https', 'mailto', 'tel'],
  allowedSchemesByTag: { img: ['cid', 'data'] },
  allowedSchemesAppliedToAttributes: ['href', 'src', 'cite', 'action', 'formaction', 'background', 'poster', 'xlink:href'],
  allowProtocolRelative: false,
  allowVulnerableTags: false,
  disallowedTagsMode: 'discard',
  nonTextTags: DROP_WITH_CONTENT,
  enforceHtmlBoundary: false,
  nestingLimit: 200,
  transformTags: {
    a: (tagName, attribs) => {
      const out: sanitizeHtml.Attributes = {};
      for (const k of ['dir', 'lang', 'title'] as const) if (attribs[k] !== undefined) out[k] = attribs[k];
      const href = attribs['href'];
      if (href !== undefined && isSafeLink(href)) {
        out['href'] = compact(href);
        out['target'] = '_blank';
        out['rel'] = 'noopener noreferrer nofollow';
      }
      return { tagName, attribs: out };
    },
    img: (tagName, attribs) => {
      const out: sanitizeHtml.Attributes = {};
      const src = attribs['src'];
      if (src !== undefined && isSafeImageSource(src)) out['src'] = compact(src);
      if (attribs['alt'] !== undefined) out['alt'] = attribs['alt'];
      const w = boundedSize(attribs['width']);
      const h = boundedSize(attribs['height']);
      if (w !== undefined) out['width'] = w;
      if (h !== undefined) out['height'] = h;
      return { tagName, attribs: out };
    },
  },
  // An image whose source was not cid:/data:image is removed entirely (no remote loads, no broken boxes).
  exclusiveFilter: (frame) => frame.tag === 'img' && !frame.attribs['src'],
};

/** Sanitise mail HTML for display. Total: never throws, returns '' for empty input. Unbounded: see below. */
export function sanitizeMailHtml(html: string): string {
  if (!html) return '';
  return sanitizeHtml(html, OPTIONS);
}

/** Sanitised HTML, or null when `html` is longer than `max` (the caller flags 'html-too-large'). */
export function sanitizeCapped(html: string, max = MAX_SANITIZE_HTML_CHARS): string | null {
  return html.length > max ? null : sanitizeMailHtml(html);
}
