// Why this exists: TLS tests need a private CA and a server certificate for localhost/127.0.0.1
// signed by it, generated fresh at test start with the openssl CLI (EC P-256 keys, ~50 ms), so
// clients can verify with the CA file and must fail verification without it.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CertificateFiles {
  /** PEM of the self-signed test CA (give it to clients as `ca`). */
  caFile: string;
  /** PEM of the server certificate (leaf only), CN=localhost, SAN DNS:localhost, IP:127.0.0.1. */
  certFile: string;
  /** PEM of the server private key (EC prime256v1). */
  keyFile: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}

/**
 * A self-signed server certificate (no CA) for `name`, as a careless or test server presents: in `dir`,
 * `server.pem` and `server.key`; `caFile` is the certificate itself (trusting it is what a client can do).
 */
export async function makeSelfSignedCertificate(dir: string, name: string): Promise<CertificateFiles> {
  await mkdir(dir, { recursive: true });
  const keyFile = join(dir, 'server.key');
  const certFile = join(dir, 'server.pem');
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', keyFile], dir);
  await openssl(
    [
      'req', '-x509', '-new', '-key', keyFile, '-sha256', '-days', '3650', '-subj', `/O=mailroom tests/CN=${name}`,
      '-addext', `subjectAltName=DNS:${name}`, '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'extendedKeyUsage=serverAuth',
      '-out', certFile,
    ],
    dir,
  );
  return { caFile: certFile, certFile, keyFile };
}

/** Create `ca.pem`, `ca.key`, `server.pem`, `server.key` in `dir` (created if missing). */
export async function makeCertificates(dir: string): Promise<CertificateFiles> {
  await mkdir(dir, { recursive: true });
  const caKey = join(dir, 'ca.key');
  const caFile = join(dir, 'ca.pem');
  const keyFile = join(dir, 'server.key');
  const csrFile = join(dir, 'server.csr');
  const certFile = join(dir, 'server.pem');
  const extFile = join(dir, 'server.ext');
  const serial = '0x' + randomBytes(8).toString('hex');

  await Promise.all([
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', caKey], dir),
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', keyFile], dir),
    writeFile(
      extFile,
      [
        'basicConstraints = critical, CA:FALSE',
        'keyUsage = critical, digitalSignature',
        'extendedKeyUsage = serverAuth',
        'subjectAltName = DNS:localhost, IP:127.0.0.1',
        '',
      ].join('\n'),
    ),
  ]);
  await Promise.all([
    openssl(
      [
        'req', '-x509', '-new', '-key', caKey, '-sha256', '-days', '3650',
        '-subj', `/O=mailroom tests/CN=mailroom test CA ${serial}`,
        '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
        '-out', caFile,
      ],
      dir,
    ),
    openssl(['req', '-new', '-key', keyFile, '-subj', '/O=mailroom tests/CN=localhost', '-out', csrFile], dir),
  ]);
  await openssl(
    [
      'x509', '-req', '-in', csrFile, '-CA', caFile, '-CAkey', caKey, '-set_serial', serial,
      '-days', '3650', '-sha256', '-extfile', extFile, '-out', certFile,
    ],
    dir,
  );
  return { caFile, certFile, keyFile };
}
