// Why this file exists: the Kubernetes manifests in deploy/kubernetes are applied by a GitOps tool,
// not by anyone who reads them. These tests parse every manifest and hold it to what the daemon
// needs: one replica with Recreate (single-writer store), a restricted securityContext, probes on
// /-/healthy and /-/ready, the ConfigMap mounted as a directory (so hot reload works), secrets as
// read-only files that the example config actually names, ports that agree with each other, and
// a ConfigMap config that passes the daemon's own `mailroom check --strict`.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { main } from '../../src/main.js';

const dir = fileURLToPath(new URL('../../deploy/kubernetes', import.meta.url));

type Manifest = { apiVersion: string; kind: string; metadata?: { name?: string; labels?: Record<string, string> }; [k: string]: unknown };
type Probe = { httpGet?: { path?: string; port?: string | number } };
type Mount = { name: string; mountPath: string; readOnly?: boolean; subPath?: string };
type SecurityContext = {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type?: string };
};
type Container = {
  name: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: SecurityContext;
  volumeMounts?: Mount[];
};
type Volume = {
  name: string;
  configMap?: { name: string };
  secret?: { secretName: string; defaultMode?: number };
  persistentVolumeClaim?: { claimName: string };
  emptyDir?: object;
};
type Deployment = Manifest & {
  spec: {
    replicas: number;
    strategy?: { type?: string };
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
      spec: { securityContext?: SecurityContext & { seccompProfile?: { type?: string } }; containers: Container[]; volumes: Volume[] };
    };
  };
};

const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
const manifests: { file: string; doc: Manifest }[] = files.flatMap((file) =>
  parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
    return { file, doc: doc.toJS() as Manifest };
  }),
);
function only<T extends Manifest>(kind: string): T {
  const found = manifests.filter((m) => m.doc.kind === kind);
  if (found.length !== 1) throw new Error(`expected exactly one ${kind} in deploy/kubernetes, found ${found.length}`);
  return found[0]!.doc as T;
}

const deployment = only<Deployment>('Deployment');
const pod = deployment.spec.template.spec;
const container = pod.containers.find((c) => c.name === 'mailroom')!;
const httpPort = container.ports?.find((p) => p.name === 'http')?.containerPort;
const mount = (path: string) => container.volumeMounts?.find((m) => m.mountPath === path);
const volume = (name: string | undefined) => pod.volumes.find((v) => v.name === name);

/** The value a container-level securityContext field takes, falling back to the pod level. */
function effective<K extends keyof SecurityContext>(key: K): SecurityContext[K] {
  return container.securityContext?.[key] ?? pod.securityContext?.[key];
}

describe('deploy/kubernetes', () => {
  it('parses: every manifest has apiVersion and kind, and kustomization lists every other file', () => {
    expect(files).toContain('kustomization.yaml');
    for (const { file, doc } of manifests) {
      expect(doc.apiVersion, file).toBeTruthy();
      expect(doc.kind, file).toBeTruthy();
    }
    const kustomization = only<Manifest & { resources: string[] }>('Kustomization');
    expect([...kustomization.resources].sort()).toEqual(files.filter((f) => f !== 'kustomization.yaml'));
  });

  it('runs exactly one replica with the Recreate strategy (single-writer store)', () => {
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy?.type).toBe('Recreate');
    expect(readFileSync(join(dir, 'deployment.yaml'), 'utf8')).toMatch(/single-writer/);
  });

  it('has a restricted securityContext', () => {
    expect(effective('runAsNonRoot')).toBe(true);
    expect(effective('runAsUser')).toBe(1000);
    expect(container.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(container.securityContext?.allowPrivilegeEscalation).toBe(false);
    expect(container.securityContext?.capabilities?.drop).toContain('ALL');
    expect(container.securityContext?.capabilities?.add ?? []).toEqual([]);
    expect(effective('seccompProfile')?.type).toBe('RuntimeDefault');
    expect(pod.securityContext?.seccompProfile?.type).toBe('RuntimeDefault');
  });

  it('probes liveness on /-/healthy and readiness on /-/ready, on the daemon port', () => {
    expect(httpPort).toBe(9465);
    expect(container.livenessProbe?.httpGet?.path).toBe('/-/healthy');
    expect(container.readinessProbe?.httpGet?.path).toBe('/-/ready');
    for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
      if (probe) expect([httpPort, 'http']).toContain(probe.httpGet?.port);
    }
  });

  it('sets resource requests and limits', () => {
    expect(container.resources?.requests?.cpu).toBeTruthy();
    expect(container.resources?.requests?.memory).toBeTruthy();
    expect(container.resources?.limits?.memory).toBeTruthy();
  });

  it('carries Prometheus scrape annotations for the daemon port', () => {
    const annotations = deployment.spec.template.metadata.annotations ?? {};
    expect(annotations['prometheus.io/scrape']).toBe('true');
    expect(annotations['prometheus.io/port']).toBe(String(httpPort));
    expect(annotations['prometheus.io/path']).toBe('/metrics');
  });

  it('mounts config (whole directory), secrets (read-only), data (PVC) and a writable /tmp', () => {
    expect(container.args).toEqual(['run', '--config', '/etc/mailroom']);
    const config = mount('/etc/mailroom');
    expect(config?.subPath, 'a subPath mount is never updated: hot reload would stop').toBeUndefined();
    expect(volume(config?.name)?.configMap?.name).toBe(only('ConfigMap').metadata?.name);

    const secrets = mount('/run/secrets');
    expect(secrets?.readOnly).toBe(true);
    const secretVolume = volume(secrets?.name)?.secret;
    expect(secretVolume?.secretName).toBe(only('Secret').metadata?.name);
    expect(secretVolume?.defaultMode).toBe(0o440);

    const data = mount('/var/lib/mailroom');
    expect(volume(data?.name)?.persistentVolumeClaim?.claimName).toBe(only('PersistentVolumeClaim').metadata?.name);
    expect(volume(mount('/tmp')?.name)?.emptyDir).toBeDefined();
  });

  it('routes the Service to the pod and its http port', () => {
    const service = only<Manifest & { spec: { selector: Record<string, string>; ports: { port: number; targetPort: string | number }[] } }>('Service');
    expect(deployment.spec.template.metadata.labels).toMatchObject(service.spec.selector);
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
    expect([httpPort, 'http']).toContain(service.spec.ports[0]?.targetPort);
  });

  describe('the example config in the ConfigMap', () => {
    const data = only<Manifest & { data: Record<string, string> }>('ConfigMap').data;
    const docs = Object.entries(data).map(([key, text]) => ({ key, text, config: parse(text) as Record<string, unknown> }));
    const merged = Object.assign({}, ...docs.map((d) => d.config)) as {
      server?: { listen?: string };
      store?: { path?: string };
    };
    const secretKeys = Object.keys(
      (only('Secret') as Manifest & { stringData?: Record<string, string>; data?: Record<string, string> }).stringData ?? {},
    );

    it('has only *.yaml keys, each a YAML map the daemon loads as one file', () => {
      for (const { key, config } of docs) {
        expect(key).toMatch(/^[\w.-]+\.ya?ml$/);
        expect(typeof config, key).toBe('object');
      }
    });

    it('passes `mailroom check --strict` as the files the ConfigMap mounts', async () => {
      const configDir = mkdtempSync(join(tmpdir(), 'mailroom-configmap-'));
      try {
        for (const { key, text } of docs) writeFileSync(join(configDir, key), text);
        const lines: string[] = [];
        const code = await main(['check', '--strict', '--config', configDir], (l) => lines.push(l), (l) => lines.push(l));
        expect(code, lines.join('\n')).toBe(0);
      } finally {
        rmSync(configDir, { recursive: true, force: true });
      }
    });

    it('serves /metrics without a token on the annotated port (what the pod annotations scrape)', () => {
      const server = merged.server as { metricsListen?: string; metricsAuth?: string } | undefined;
      expect(server?.metricsListen).toBeUndefined();
      expect(server?.metricsAuth ?? 'none').toBe('none');
    });

    it('listens on every address on the container port and stores data on the PVC', () => {
      expect(merged.server?.listen).toBe(`0.0.0.0:${httpPort}`);
      expect(merged.store?.path).toBe('/var/lib/mailroom');
    });

    it('takes every secret from a file under /run/secrets that the Secret provides', () => {
      const fileRefs: string[] = [];
      const walk = (value: unknown): void => {
        if (Array.isArray(value)) value.forEach(walk);
        else if (value && typeof value === 'object') {
          for (const [k, v] of Object.entries(value)) {
            if (/File$/.test(k) && typeof v === 'string') fileRefs.push(v);
            else if (/^(password|token|secret|clientSecret)$/.test(k)) throw new Error(`inline secret "${k}" in the ConfigMap`);
            else walk(v);
          }
        }
      };
      docs.forEach((d) => walk(d.config));
      expect(fileRefs.length).toBeGreaterThan(0);
      for (const ref of fileRefs) {
        expect(ref).toMatch(/^\/run\/secrets\/[\w.-]+$/);
        expect(secretKeys, ref).toContain(ref.slice('/run/secrets/'.length));
      }
      for (const { key, text } of docs) expect(text, `${key} uses no \${ENV} placeholders`).not.toMatch(/\$\{/);
    });
  });
});

// deploy/kubernetes/replicated: N replicas on one PostgreSQL store, held to the same rules where they
// apply, and to what several replicas need: RollingUpdate, a PodDisruptionBudget, spread over nodes,
// the replica id from the pod name, the database URL from the Secret, no volume of its own.
describe('deploy/kubernetes/replicated', () => {
  const rdir = join(dir, 'replicated');
  const rfiles = readdirSync(rdir).filter((f) => /\.ya?ml$/.test(f)).sort();
  const rmanifests = rfiles.flatMap((file) =>
    parseAllDocuments(readFileSync(join(rdir, file), 'utf8')).map((doc) => {
      if (doc.errors.length > 0) throw new Error(`replicated/${file}: ${doc.errors[0]?.message}`);
      return { file, doc: doc.toJS() as Manifest };
    }),
  );
  function one<T extends Manifest>(kind: string): T {
    const found = rmanifests.filter((m) => m.doc.kind === kind);
    if (found.length !== 1) throw new Error(`expected exactly one ${kind} in deploy/kubernetes/replicated, found ${found.length}`);
    return found[0]!.doc as T;
  }
  type Env = { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath?: string } } };
  type Spread = { maxSkew: number; topologyKey: string; whenUnsatisfiable: string; labelSelector?: { matchLabels?: Record<string, string> } };
  const rdeployment = one<Deployment & { spec: { strategy?: { type?: string; rollingUpdate?: { maxUnavailable?: number | string; maxSurge?: number | string } } } }>('Deployment');
  const rpod = rdeployment.spec.template.spec as Deployment['spec']['template']['spec'] & { topologySpreadConstraints?: Spread[] };
  const rcontainer = rpod.containers.find((c) => c.name === 'mailroom')! as Container & { env?: Env[] };
  const rmount = (path: string) => rcontainer.volumeMounts?.find((m) => m.mountPath === path);
  const rvolume = (name: string | undefined) => rpod.volumes.find((v) => v.name === name);
  const podLabels = rdeployment.spec.template.metadata.labels;
  const configMap = one<Manifest & { data: Record<string, string> }>('ConfigMap');
  const rdocs = Object.entries(configMap.data).map(([key, text]) => ({ key, text, config: parse(text) as Record<string, unknown> }));
  const rmerged = Object.assign({}, ...rdocs.map((d) => d.config)) as { server?: { listen?: string }; store?: Record<string, unknown> };
  const rsecretKeys = Object.keys((one('Secret') as Manifest & { stringData?: Record<string, string> }).stringData ?? {});

  it('parses, and its kustomization lists every other file', () => {
    for (const { file, doc } of rmanifests) {
      expect(doc.apiVersion, file).toBeTruthy();
      expect(doc.kind, file).toBeTruthy();
    }
    expect([...one<Manifest & { resources: string[] }>('Kustomization').resources].sort()).toEqual(rfiles.filter((f) => f !== 'kustomization.yaml'));
  });

  it('runs 3 replicas with RollingUpdate, never fewer than 3 ready during a rollout', () => {
    expect(rdeployment.spec.replicas).toBe(3);
    expect(rdeployment.spec.strategy?.type).toBe('RollingUpdate');
    expect(rdeployment.spec.strategy?.rollingUpdate?.maxUnavailable).toBe(0);
    expect(podLabels).toMatchObject(rdeployment.spec.selector.matchLabels);
  });

  it('has a PodDisruptionBudget over its pods that lets one go at a time', () => {
    const pdb = one<Manifest & { spec: { maxUnavailable?: number; minAvailable?: number; selector: { matchLabels: Record<string, string> } } }>('PodDisruptionBudget');
    expect(pdb.apiVersion).toBe('policy/v1');
    expect(podLabels).toMatchObject(pdb.spec.selector.matchLabels);
    expect(pdb.spec.maxUnavailable).toBe(1);
  });

  it('spreads the replicas over nodes', () => {
    const spread = rpod.topologySpreadConstraints?.find((t) => t.topologyKey === 'kubernetes.io/hostname');
    expect(spread?.maxSkew).toBe(1);
    expect(['ScheduleAnyway', 'DoNotSchedule']).toContain(spread?.whenUnsatisfiable);
    expect(podLabels).toMatchObject(spread?.labelSelector?.matchLabels ?? { missing: 'labelSelector' });
  });

  it('names each replica after its pod (MAILROOM_REPLICA_ID from the downward API)', () => {
    expect(rcontainer.env?.find((e) => e.name === 'MAILROOM_REPLICA_ID')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
  });

  it('keeps the restricted securityContext, the probes, resources and scrape annotations of the single-replica one', () => {
    const sc = rcontainer.securityContext;
    expect(sc?.runAsNonRoot ?? rpod.securityContext?.runAsNonRoot).toBe(true);
    expect(sc?.runAsUser ?? rpod.securityContext?.runAsUser).toBe(1000);
    expect(sc?.readOnlyRootFilesystem).toBe(true);
    expect(sc?.allowPrivilegeEscalation).toBe(false);
    expect(sc?.capabilities?.drop).toContain('ALL');
    expect(sc?.capabilities?.add ?? []).toEqual([]);
    expect(rpod.securityContext?.seccompProfile?.type).toBe('RuntimeDefault');
    const port = rcontainer.ports?.find((p) => p.name === 'http')?.containerPort;
    expect(port).toBe(9465);
    expect(rcontainer.livenessProbe?.httpGet?.path).toBe('/-/healthy');
    expect(rcontainer.readinessProbe?.httpGet?.path).toBe('/-/ready');
    for (const probe of [rcontainer.livenessProbe, rcontainer.readinessProbe, rcontainer.startupProbe]) if (probe) expect([port, 'http']).toContain(probe.httpGet?.port);
    expect(rcontainer.resources?.requests?.cpu).toBeTruthy();
    expect(rcontainer.resources?.limits?.memory).toBeTruthy();
    const annotations = rdeployment.spec.template.metadata.annotations ?? {};
    expect(annotations['prometheus.io/scrape']).toBe('true');
    expect(annotations['prometheus.io/port']).toBe(String(port));
    const service = one<Manifest & { spec: { selector: Record<string, string>; ports: { targetPort: string | number }[] } }>('Service');
    expect(podLabels).toMatchObject(service.spec.selector);
    expect([port, 'http']).toContain(service.spec.ports[0]?.targetPort);
  });

  it('mounts config (whole directory) and secrets (read-only), and no volume of its own: the state is in PostgreSQL', () => {
    expect(rcontainer.args).toEqual(['run', '--config', '/etc/mailroom']);
    const config = rmount('/etc/mailroom');
    expect(config?.subPath).toBeUndefined();
    expect(rvolume(config?.name)?.configMap?.name).toBe(configMap.metadata?.name);
    const secrets = rmount('/run/secrets');
    expect(secrets?.readOnly).toBe(true);
    expect(rvolume(secrets?.name)?.secret?.secretName).toBe(one('Secret').metadata?.name);
    expect(rvolume(secrets?.name)?.secret?.defaultMode).toBe(0o440);
    expect(rpod.volumes.filter((v) => v.persistentVolumeClaim)).toEqual([]);
    expect(rmanifests.filter((m) => m.doc.kind === 'PersistentVolumeClaim')).toEqual([]);
    expect(rvolume(rmount('/tmp')?.name)?.emptyDir).toBeDefined();
  });

  it('configures the PostgreSQL store with the URL from the Secret, and passes `mailroom check --strict`', async () => {
    expect(rmerged.server?.listen).toBe('0.0.0.0:9465');
    expect(rmerged.store).toMatchObject({ driver: 'postgres', urlFile: '/run/secrets/database-url' });
    expect(rmerged.store?.url).toBeUndefined();
    expect(rsecretKeys).toContain('database-url');
    const fileRefs: string[] = [];
    const walk = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(walk);
      else if (value && typeof value === 'object')
        for (const [k, v] of Object.entries(value)) {
          if (/File$/.test(k) && typeof v === 'string') fileRefs.push(v);
          else if (/^(password|token|secret|clientSecret)$/.test(k)) throw new Error(`inline secret "${k}" in the ConfigMap`);
          else walk(v);
        }
    };
    rdocs.forEach((d) => walk(d.config));
    for (const ref of fileRefs) {
      expect(ref).toMatch(/^\/run\/secrets\/[\w.-]+$/);
      expect(rsecretKeys, ref).toContain(ref.slice('/run/secrets/'.length));
    }
    const configDir = mkdtempSync(join(tmpdir(), 'mailroom-configmap-replicated-'));
    try {
      for (const { key, text } of rdocs) writeFileSync(join(configDir, key), text);
      const lines: string[] = [];
      const code = await main(['check', '--strict', '--config', configDir], (l) => lines.push(l), (l) => lines.push(l));
      expect(code, lines.join('\n')).toBe(0);
    } finally {
      rmSync(configDir, { recursive: true, force: true });
    }
  });
});
