// Why this file exists: the console's one stylesheet and one script, served from the daemon (no
// third-party assets: it works with no internet, and the CSP allows only 'self'). The script only
// asks before destructive actions and submits filter selects; every page works without it.
export const CONSOLE_CSS = `
:root { color-scheme: light; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --accent: #0a58ca; --bad: #b42318; --ok: #1a7f37; --warn: #9a6700; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: #fff; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 1rem; padding: .5rem 1rem; border-bottom: 1px solid var(--line); background: #f6f8fa; }
header nav { display: flex; flex: 1; align-items: center; gap: 1rem; flex-wrap: wrap; }
header ul { display: flex; gap: .25rem; list-style: none; margin: 0; padding: 0; flex-wrap: wrap; }
header a { color: var(--accent); text-decoration: none; padding: .25rem .5rem; border-radius: 4px; }
header a[aria-current="page"] { background: var(--accent); color: #fff; }
.brand { font-weight: 700; color: var(--fg); }
.who { margin-left: auto; color: var(--muted); }
main { padding: 1rem; max-width: 1400px; }
h1 { font-size: 1.4rem; margin: .25rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { text-align: left; vertical-align: top; padding: .35rem .5rem; border-bottom: 1px solid var(--line); }
th { background: #f6f8fa; font-weight: 600; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
form.inline { display: inline; }
form.filters { display: flex; flex-wrap: wrap; gap: .75rem; align-items: end; margin-bottom: 1rem; }
label { display: flex; flex-direction: column; font-size: .85rem; color: var(--muted); gap: .15rem; }
input, select, button { font: inherit; padding: .3rem .5rem; border: 1px solid var(--line); border-radius: 4px; }
button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
button.danger { background: var(--bad); border-color: var(--bad); }
button:focus-visible, a:focus-visible, input:focus-visible, select:focus-visible { outline: 3px solid #f0b400; outline-offset: 2px; }
.flash { padding: .5rem .75rem; border-radius: 4px; }
.flash.ok { background: #dafbe1; color: var(--ok); }
.flash.error { background: #ffebe9; color: var(--bad); }
.state-suspended, .state-backoff, .bad { color: var(--bad); font-weight: 600; }
.state-disabled, .muted { color: var(--muted); }
.warn { color: var(--warn); }
.hint { display: block; color: var(--muted); font-size: .85rem; }
pre.text { white-space: pre-wrap; background: #f6f8fa; padding: .75rem; border: 1px solid var(--line); border-radius: 4px; max-height: 30rem; overflow: auto; }
iframe.mail { width: 100%; height: 26rem; border: 1px solid var(--line); border-radius: 4px; background: #fff; }
.charts { display: flex; flex-wrap: wrap; gap: 1.5rem; }
.charts figure { margin: 0; }
.charts figcaption { font-size: .85rem; color: var(--muted); }
.signin { max-width: 24rem; display: flex; flex-direction: column; gap: .75rem; }
`;

export const CONSOLE_JS = `'use strict';
document.addEventListener('submit', function (e) {
  var f = e.target;
  var q = f && f.getAttribute && f.getAttribute('data-confirm');
  if (q && !window.confirm(q)) e.preventDefault();
});
document.addEventListener('change', function (e) {
  var el = e.target;
  if (el && el.matches && el.matches('select[data-autosubmit]') && el.form) el.form.requestSubmit();
});
`;
