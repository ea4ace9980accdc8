// Why this file exists: the alert rules and the Grafana dashboard in deploy/monitoring are code
// that nobody runs until an incident. These tests run promtool on the rules and their unit tests,
// check that every dashboard query is valid PromQL, and hold both to the metric names the daemon
// exports (MAILROOM_METRICS), so a renamed metric breaks here and not silently in production.
// Needs promtool: Debian package `prometheus` (see deploy/README.md).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createMetrics } from '../../src/observability/metrics.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const monitoring = join(root, 'deploy/monitoring');

/** Every metric the daemon exports that deploy/monitoring may use (the daemon's metrics contract). */
export const MAILROOM_METRICS = [
  'mailroom_mailbox_up',
  'mailroom_config_last_reload_successful',
  'mailroom_ingest_lag_seconds',
  'mailroom_webhook_queue_depth',
  'mailroom_webhook_dead_letters',
  'mailroom_outbox_queue_depth',
  'mailroom_outbound_sent_total',
  'mailroom_mailbox_suspended',
  'mailroom_oauth_credential_expiry_seconds',
  'mailroom_messages_ingested_total',
  'mailroom_ingest_errors_total',
  'mailroom_poll_duration_seconds',
  'mailroom_webhook_deliveries_total',
  'mailroom_config_reloads_total',
  'mailroom_config_info',
  'mailroom_mailbox_last_success_timestamp_seconds',
  'mailroom_mailbox_owned',
  'mailroom_cluster_config_hashes',
  'mailroom_cluster_members',
  'mailroom_mailboxes_owned',
  'mailroom_lease_acquired_total',
  'mailroom_lease_takeovers_total',
  'mailroom_fence_refusals_total',
  'mailroom_claim_takeovers_total',
] as const;

/** Histograms: queries use their _bucket/_sum/_count series. */
const HISTOGRAMS = new Set<string>(['mailroom_ingest_lag_seconds', 'mailroom_poll_duration_seconds']);

/** The metric names a PromQL expression references, histogram series folded to their base name. */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\bmailroom_[a-zA-Z0-9_]+/g)].map(([name]) => {
    const base = name.replace(/_(bucket|sum|count)$/, '');
    return HISTOGRAMS.has(base) ? base : name;
  });
}

function promtool(args: string[]): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { cwd: root, encoding: 'utf8' });
  if (result.error) {
    throw new Error(
      `cannot run promtool (${result.error.message}); install it with ` +
        '`apt-get install -y --no-install-recommends prometheus` (see deploy/README.md)',
    );
  }
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

type Rule = { alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
const rules: Rule[] = (
  parse(readFileSync(join(monitoring, 'alerts.yaml'), 'utf8')) as { groups: { rules: Rule[] }[] }
).groups.flatMap((g) => g.rules);

/** Alert name -> the labels its summary/description must name. */
const EXPECTED_ALERTS: Record<string, string[]> = {
  MailroomMailboxDown: ['mailbox', 'company'],
  MailroomConfigReloadFailed: ['instance'],
  MailroomIngestLagGrowing: ['mailbox'],
  MailroomWebhookDeadLetters: ['webhook'],
  MailroomOutboxFailures: ['mailbox'],
  MailroomMailboxSuspended: ['mailbox', 'company'],
  MailroomCredentialExpiresSoon: ['mailbox'],
  MailroomMailboxUnowned: ['mailbox'],
  MailroomConfigSkew: ['job'],
};

describe('MAILROOM_METRICS', () => {
  it('names only metrics the daemon registers', () => {
    const registered = new Set(createMetrics().registry.getMetricsAsArray().map((m) => m.name));
    for (const name of MAILROOM_METRICS) expect([...registered], name).toContain(name);
  });
});

describe('deploy/monitoring/alerts.yaml', () => {
  it('passes `promtool check rules`', () => {
    const { status, output } = promtool(['check', 'rules', 'deploy/monitoring/alerts.yaml']);
    expect(output).toContain('SUCCESS');
    expect(status, output).toBe(0);
  });

  it('passes its unit tests (`promtool test rules`)', () => {
    const { status, output } = promtool(['test', 'rules', 'deploy/monitoring/alerts.test.yaml']);
    expect(status, output).toBe(0);
  });

  it('defines each expected alert with a severity, a summary and a description naming its labels', () => {
    expect(rules.map((r) => r.alert).sort()).toEqual(Object.keys(EXPECTED_ALERTS).sort());
    for (const rule of rules) {
      const name = rule.alert ?? '';
      expect(['critical', 'warning', 'info'], name).toContain(rule.labels?.severity);
      const { summary = '', description = '' } = rule.annotations ?? {};
      expect(summary.length, name).toBeGreaterThan(0);
      expect(description.length, name).toBeGreaterThan(0);
      for (const label of EXPECTED_ALERTS[name] ?? []) {
        expect(`${summary} ${description}`, `${name} names ${label}`).toMatch(new RegExp(`\\$labels\\.${label}\\b`));
      }
    }
  });

  it('uses only metrics the daemon exports', () => {
    for (const rule of rules) {
      for (const metric of metricsIn(rule.expr)) expect(MAILROOM_METRICS, rule.alert).toContain(metric);
    }
  });

  it('groups and joins only by labels the daemon puts on the metrics the rule uses', () => {
    // Labels Prometheus adds to every target's series; `le` is every histogram bucket's.
    const target = ['instance', 'job'];
    const labelsOf = new Map(
      createMetrics().registry.getMetricsAsArray().map((m) => {
        const names = (m as unknown as { labelNames: string[] }).labelNames;
        return [m.name, new Set([...names, ...target, ...(HISTOGRAMS.has(m.name) ? ['le'] : [])])];
      }),
    );
    for (const rule of rules) {
      const used = metricsIn(rule.expr);
      for (const [, list] of rule.expr.matchAll(/\b(?:by|on|without|ignoring)\s*\(([^)]*)\)/g)) {
        for (const label of list!.split(',').map((l) => l.trim()).filter(Boolean)) {
          expect(used.some((metric) => labelsOf.get(metric)?.has(label)), `${rule.alert}: no metric in its expression has label ${label}`).toBe(true);
        }
      }
    }
  });

  it('has a firing unit test for every alert', () => {
    type AlertTest = { alertname: string; exp_alerts?: unknown[] };
    const suite = parse(readFileSync(join(monitoring, 'alerts.test.yaml'), 'utf8')) as {
      tests: { alert_rule_test?: AlertTest[] }[];
    };
    const fired = new Set(
      suite.tests.flatMap((t) => t.alert_rule_test ?? []).filter((a) => (a.exp_alerts ?? []).length > 0).map((a) => a.alertname),
    );
    expect([...fired].sort()).toEqual(Object.keys(EXPECTED_ALERTS).sort());
  });
});

type Target = { expr?: string; refId?: string; datasource?: { uid?: string } };
type Panel = { id: number; type: string; title: string; gridPos?: object; datasource?: { type?: string; uid?: string }; targets?: Target[] };
type Dashboard = {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown; definition?: string }[] };
  annotations: { list: { expr?: string }[] };
};

const dashboard = JSON.parse(readFileSync(join(monitoring, 'grafana-dashboard.json'), 'utf8')) as Dashboard;

/** Every PromQL expression in the dashboard: panel targets, annotation queries, variable queries. */
function dashboardQueries(): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const panel of dashboard.panels) {
    for (const t of panel.targets ?? []) if (t.expr) out.push({ where: `panel "${panel.title}" ${t.refId}`, expr: t.expr });
  }
  for (const a of dashboard.annotations.list) if (a.expr) out.push({ where: 'annotation', expr: a.expr });
  for (const v of dashboard.templating.list) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : (v.query as { query: string }).query;
    const labelValues = /^label_values\((.+),\s*\w+\)$/.exec(q);
    out.push({ where: `variable $${v.name}`, expr: labelValues?.[1] ?? q });
  }
  return out;
}

/** Grafana's variables replaced by values that make the query plain PromQL. */
function asPromQL(expr: string): string {
  return expr
    .replace(/\$__range/g, '1h')
    .replace(/\$__(rate_)?interval/g, '5m')
    .replace(/\$\{?\w+\}?/g, '.*');
}

describe('deploy/monitoring/grafana-dashboard.json', () => {
  it('is a dashboard with a Prometheus datasource variable that every panel uses', () => {
    expect(dashboard.uid).toBeTruthy();
    expect(dashboard.title).toBeTruthy();
    const ds = dashboard.templating.list.find((v) => v.type === 'datasource');
    expect(ds?.query).toBe('prometheus');
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      expect(panel.gridPos, panel.title).toBeDefined();
      expect(panel.datasource?.uid, panel.title).toBe(`\${${ds?.name}}`);
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
    }
  });

  it('references only metrics in the allow-list, and shows each one the operators need', () => {
    const used = new Set(dashboardQueries().flatMap((q) => metricsIn(q.expr)));
    expect(used.size).toBeGreaterThan(0);
    for (const metric of used) expect(MAILROOM_METRICS).toContain(metric);
    for (const needed of [
      'mailroom_mailbox_up',
      'mailroom_messages_ingested_total',
      'mailroom_ingest_errors_total',
      'mailroom_ingest_lag_seconds',
      'mailroom_poll_duration_seconds',
      'mailroom_webhook_queue_depth',
      'mailroom_webhook_deliveries_total',
      'mailroom_outbox_queue_depth',
      'mailroom_outbound_sent_total',
      'mailroom_config_last_reload_successful',
      'mailroom_mailbox_suspended',
      // the Cluster row (replicas on PostgreSQL)
      'mailroom_cluster_members',
      'mailroom_mailboxes_owned',
      'mailroom_mailbox_owned',
      'mailroom_lease_acquired_total',
      'mailroom_lease_takeovers_total',
      'mailroom_fence_refusals_total',
      'mailroom_claim_takeovers_total',
      'mailroom_cluster_config_hashes',
    ]) {
      expect([...used], needed).toContain(needed);
    }
  });

  it('groups only by labels the daemon puts on the metrics a query uses', () => {
    const target = ['instance', 'job'];
    const labelsOf = new Map(
      createMetrics().registry.getMetricsAsArray().map((m) => {
        const names = (m as unknown as { labelNames: string[] }).labelNames;
        return [m.name, new Set([...names, ...target, ...(HISTOGRAMS.has(m.name) ? ['le'] : [])])];
      }),
    );
    for (const q of dashboardQueries()) {
      const used = metricsIn(q.expr);
      for (const [, list] of q.expr.matchAll(/\b(?:by|on|without|ignoring)\s*\(([^)]*)\)/g)) {
        for (const label of list!.split(',').map((l) => l.trim()).filter(Boolean)) {
          expect(used.some((metric) => labelsOf.get(metric)?.has(label)), `${q.where}: no metric in it has label ${label}`).toBe(true);
        }
      }
    }
  });

  it('has only valid PromQL (each query checked by promtool as a recording rule)', () => {
    const queries = dashboardQueries();
    const file = {
      groups: [
        {
          name: 'dashboard-queries',
          rules: queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: asPromQL(q.expr) })),
        },
      ],
    };
    const dir = mkdtempSync(join(tmpdir(), 'mailroom-dashboard-'));
    try {
      const path = join(dir, 'queries.yaml');
      writeFileSync(path, stringify(file));
      const { status, output } = promtool(['check', 'rules', path]);
      expect(status, `${output}\n${queries.map((q, i) => `${i}: ${q.where}: ${q.expr}`).join('\n')}`).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
