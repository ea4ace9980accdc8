// The HTML sanitiser against hostile mail HTML: whatever goes in, nothing that runs script, loads a
// remote resource or restyles the page comes out; ordinary formatting survives.
import { describe, expect, it } from 'vitest';
import { isSafeImageSource, isSafeLink, sanitizeMailHtml } from '../../src/ingest/sanitize-html.js';

/** Every way the output could still execute or load something. */
function assertInert(out: string): void {
  expect(out).not.toMatch(/<\s*(script|style|iframe|frame|object|embed|svg|math|form|input|button|link|meta|base|template|textarea|video|audio)\b/i);
  expect(out).not.toMatch(/\son[a-z]+\s*=/i);
  expect(out).not.toMatch(/javascript:|vbscript:|data:text/i);
  expect(out).not.toMatch(/\sstyle\s*=/i);
  expect(out).not.toMatch(/\s(srcset|background|formaction|action|xlink:href|poster)\s*=/i);
  expect(out).not.toMatch(/src="(?!cid:|data:image\/)/i);
  expect(out).not.toMatch(/href="(?!https?:|mailto:|tel:)/i);
}

const NASTY: [string, string][] = [
  ['script tag', '<p>hi</p><script>alert(1)</script>'],
  ['script with src', '<script src="https://evil.example/x.js"></script>'],
  ['onerror', '<img src=x onerror=alert(1)>'],
  ['onerror on cid image', '<img src="cid:a@b" onerror="alert(1)">'],
  ['event handler on block', '<div onmouseover="alert(1)">x</div>'],
  ['javascript: link', '<a href="javascript:alert(1)">x</a>'],
  ['entity-obfuscated javascript:', '<a href="jav&#x09;ascript:alert(1)">x</a>'],
  ['numeric entity javascript:', '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>'],
  ['upper-case JAVASCRIPT:', '<a href="JaVaScRiPt:alert(1)">x</a>'],
  ['leading whitespace javascript:', '<a href="   javascript:alert(1)">x</a>'],
  ['newline inside scheme', '<a href="java\nscript:alert(1)">x</a>'],
  ['data: html link', '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>'],
  ['vbscript', '<a href="vbscript:msgbox(1)">x</a>'],
  ['svg onload', '<svg onload=alert(1)><circle r=1 /></svg>'],
  ['svg with script', '<svg><script>alert(1)</script></svg>'],
  ['svg use xlink', '<svg><use xlink:href="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=#x"/></svg>'],
  ['svg image data', '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">'],
  ['math mglyph mutation', '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>'],
  ['nested script split', '<scr<script>ipt>alert(1)</scr</script>ipt>'],
  ['double open bracket', '<<img src=x onerror=alert(1)//>'],
  ['noscript mutation', '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>'],
  ['comment hiding', '<!--><img src=x onerror=alert(1)>-->'],
  ['cdata', '<![CDATA[<img src=x onerror=alert(1)>]]>'],
  ['iframe', '<iframe src="https://evil.example"></iframe>'],
  ['iframe srcdoc', '<iframe srcdoc="<script>alert(1)</script>"></iframe>'],
  ['object/embed', '<object data="x.swf"></object><embed src="x.swf">'],
  ['form', '<form action="https://evil.example"><input name=p type=password><button formaction="https://e">go</button></form>'],
  ['meta refresh', '<meta http-equiv="refresh" content="0;url=https://evil.example">'],
  ['base href', '<base href="https://evil.example/"><a href="/x">x</a>'],
  ['link stylesheet', '<link rel="stylesheet" href="https://evil.example/x.css">'],
  ['style tag', '<style>@import url(https://evil.example/x.css); body{display:none}</style>'],
  ['style attribute overlay', '<div style="position:fixed;top:0;left:0;width:100%;height:100%">phish</div>'],
  ['style expression', '<p style="width: expression(alert(1))">x</p>'],
  ['style background url', '<td style="background-image:url(https://evil.example/t.gif)">x</td>'],
  ['background attribute', '<table background="https://evil.example/t.gif"><tr><td background="https://e/x">x</td></tr></table>'],
  ['remote image', '<img src="https://tracker.example/open.gif?u=1">'],
  ['protocol-relative image', '<img src="//tracker.example/open.gif">'],
  ['relative image', '<img src="/open.gif">'],
  ['srcset', '<img src="cid:x@y" srcset="https://tracker.example/a.png 2x">'],
  ['picture source', '<picture><source srcset="https://tracker.example/a.png"><img src="cid:x"></picture>'],
  ['video poster', '<video poster="https://tracker.example/p.png"></video>'],
  ['class and id', '<p class="x" id="login-form">x</p>'],
  ['target and rel from mail', '<a href="https://ok.example" target="_self" rel="opener">x</a>'],
  ['xml namespace trick', '<x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>'],
  ['template', '<template><img src=x onerror=alert(1)></template>'],
  ['unclosed attribute', '<img src="cid:x" alt="a onerror=alert(1)'],
  ['deep nesting', '<div>'.repeat(5000) + '<img src=x onerror=alert(1)>' + '</div>'.repeat(5000)],
];

describe('sanitizeMailHtml: hostile input', () => {
  for (const [name, html] of NASTY) {
    it(name, () => {
      const out = sanitizeMailHtml(html);
      assertInert(out);
      // Idempotent: sanitising the output again changes nothing (no mutation-XSS round trip).
      expect(sanitizeMailHtml(out)).toBe(out);
    });
  }

  it('drops the content of script/style/svg, not just the tags', () => {
    expect(sanitizeMailHtml('a<script>alert(1)</script>b<style>p{}</style>c<svg><text>t</text></svg>d')).toBe('abcd');
  });

  it('keeps no trace of a remote image', () => {
    expect(sanitizeMailHtml('<p>x<img src="https://tracker.example/p.gif" alt="y">z</p>')).toBe('<p>xz</p>');
  });
});

describe('sanitizeMailHtml: ordinary mail survives', () => {
  it('keeps formatting, tables, lists and safe links', () => {
    const html =
      '<html><head><title>Newsletter</title></head><body><h1>Hi</h1><p>Text <b>bold</b> <i>it</i> <u>u</u><br>next</p>' +
      '<table border="1" cellpadding="2"><tr><td colspan="2" align="left">c</td></tr></table><ul><li>one</li></ul>' +
      '<blockquote>quoted</blockquote><a href="https://acme.example/a?x=1&amp;y=2">link</a> <a href="mailto:x@acme.example">mail</a></body></html>';
    expect(sanitizeMailHtml(html)).toBe(
      '<h1>Hi</h1><p>Text <b>bold</b> <i>it</i> <u>u</u><br />next</p>' +
        '<table border="1" cellpadding="2"><tr><td colspan="2" align="left">c</td></tr></table><ul><li>one</li></ul>' +
        '<blockquote>quoted</blockquote><a href="https://acme.example/a?x=1&amp;y=2" target="_blank" rel="noopener noreferrer nofollow">link</a> ' +
        '<a href="mailto:x@acme.example" target="_blank" rel="noopener noreferrer nofollow">mail</a>',
    );
  });

  it('keeps cid: and raster data: images', () => {
    const png = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/x8AAwMCAO+ip1sAAAAASUVORK5CYII=';
    expect(sanitizeMailHtml(`<img src="cid:logo@acme" alt="Logo" width="120"><img src="${png}">`)).toBe(
      `<img src="cid:logo@acme" alt="Logo" width="120" /><img src="${png}" />`,
    );
  });

  it('escapes text, keeps non-ASCII', () => {
    expect(sanitizeMailHtml('<p>1 &lt; 2 &amp; Grüße</p>')).toBe('<p>1 &lt; 2 &amp; Grüße</p>');
    expect(sanitizeMailHtml('')).toBe('');
  });
});

describe('URL allowlists', () => {
  it('links', () => {
    for (const ok of ['https://a.example', 'http://a.example/x', 'mailto:a@b', 'tel:+4912345', ' https://a.example ']) expect(isSafeLink(ok), ok).toBe(true);
    for (const bad of ['javascript:alert(1)', 'java\tscript:x', '//evil.example', '/relative', 'data:text/html,x', 'https:/\\evil', 'ftp://x', '']) expect(isSafeLink(bad), bad).toBe(false);
  });

  it('image sources', () => {
    for (const ok of ['cid:abc@def', 'data:image/jpeg;base64,AAAA', 'data:image/gif;base64,R0lGOD==']) expect(isSafeImageSource(ok), ok).toBe(true);
    for (const bad of ['https://x/y.png', '//x/y', 'data:image/svg+xml;base64,AA', 'data:text/html;base64,AA', 'data:image/png,<svg>', 'cid:"><script>', 'x']) {
      expect(isSafeImageSource(bad), bad).toBe(false);
    }
  });
});
