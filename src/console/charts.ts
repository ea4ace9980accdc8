// Why this file exists: small charts of the last hour from the daemon's own metrics (no Grafana
// needed for a first look): messages ingested and sent per minute, and ingest errors per mailbox.
// The counters are read once a minute, only after the console was first used (no cost otherwise),
// and drawn as inline SVG on the server (presentation attributes only: the CSP allows no inline
// style). Admin tokens only, like /metrics: the series name every mailbox.
import type { Metrics } from '../observability/metrics.js';
import { isAdmin, type PageContext } from './context.js';
import { html, raw, type Html } from './html.js';

interface Sample {
  at: number;
  ingested: number;
  sent: number;
  errors: Map<string, number>;
}

const KEEP = 61;

async function total(m: Metrics, name: string, where: (labels: Record<string, unknown>) => boolean = () => true): Promise<{ sum: number; by: Map<string, number> }> {
  const metric = m.registry.getSingleMetric(name);
  const by = new Map<string, number>();
  let sum = 0;
  if (!metric) return { sum, by };
  const { values } = await metric.get();
  for (const v of values) {
    if (!where(v.labels)) continue;
    sum += v.value;
    const mb = String(v.labels['mailbox'] ?? '');
    by.set(mb, (by.get(mb) ?? 0) + v.value);
  }
  return { sum, by };
}

export class MetricsHistory {
  readonly samples: Sample[] = [];
  #timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly metrics: Metrics,
    private readonly everyMs = 60_000,
  ) {}

  #usedAt = 0;

  /** Start sampling (idempotent; the first sample is taken now); it stops after two hours unused. */
  start(): void {
    this.#usedAt = Date.now();
    if (this.#timer) return;
    void this.sample();
    this.#timer = setInterval(() => (Date.now() - this.#usedAt > 2 * 3600_000 ? this.stop() : void this.sample()), this.everyMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  async sample(): Promise<void> {
    const [ingested, sent, errors] = await Promise.all([
      total(this.metrics, 'mailroom_messages_ingested_total'),
      total(this.metrics, 'mailroom_outbound_sent_total', (l) => l['result'] === 'sent'),
      total(this.metrics, 'mailroom_ingest_errors_total'),
    ]);
    this.samples.push({ at: Date.now(), ingested: ingested.sum, sent: sent.sum, errors: errors.by });
    if (this.samples.length > KEEP) this.samples.shift();
  }
}

/** Per-interval increases of a cumulative series (a counter reset counts from zero). */
export function deltas(values: number[]): number[] {
  return values.slice(1).map((v, i) => (v >= values[i]! ? v - values[i]! : v));
}

/** A bar chart of `values` as SVG (presentation attributes only), with a text alternative. */
export function barChart(label: string, values: number[], width = 300, height = 60): Html {
  const max = Math.max(1, ...values);
  const w = values.length ? width / values.length : width;
  const bars = values.map((v, i) => {
    const h = Math.round((v / max) * (height - 2));
    return `<rect x="${(i * w).toFixed(1)}" y="${height - h}" width="${Math.max(1, w - 1).toFixed(1)}" height="${h}" fill="#0a58ca"><title>${v}</title></rect>`;
  });
  const sum = values.reduce((a, b) => a + b, 0);
  return html`<figure><svg role="img" aria-label="${label}: ${sum}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"><rect x="0" y="0" width="${width}" height="${height}" fill="#f6f8fa"></rect>${raw(bars.join(''))}</svg><figcaption>${label} — ${sum} (max ${Math.max(0, ...values)}/min)</figcaption></figure>`;
}

export async function chartsSection(c: PageContext): Promise<Html | string> {
  if (!isAdmin(c)) return '';
  const history = consoleHistory.get(c.d.metrics);
  if (!history) return '';
  if (history.samples.length < 2) await history.sample();
  const s = history.samples;
  const mailboxes = [...new Set(s.flatMap((x) => [...x.errors.keys()]))].sort();
  const errorCharts = mailboxes.map((mb) => barChart(mb, deltas(s.map((x) => x.errors.get(mb) ?? 0)), 200, 40));
  return html`<h2>${c.t('Ingested per minute (last hour)')}</h2>
<div class="charts">${barChart(c.t('Ingested per minute (last hour)'), deltas(s.map((x) => x.ingested)))}${barChart(c.t('Sent per minute (last hour)'), deltas(s.map((x) => x.sent)))}</div>
${errorCharts.length ? html`<h2>${c.t('Errors per mailbox (last hour)')}</h2><div class="charts">${errorCharts}</div>` : ''}`;
}

/** One history per daemon (keyed by its metrics registry). */
export const consoleHistory = new WeakMap<Metrics, MetricsHistory>();

