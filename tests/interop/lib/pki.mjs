// Test certificates, made with the openssl CLI in a fresh temp dir at test
// start (nothing is checked in): a test CA, server certificates (RSA 2048 and
// ECDSA P-256) for 127.0.0.1 / localhost, station certificates signed by the
// CA, and the hostile ones (unknown CA, self-signed, expired, not yet valid,
// RSA-1024). Expired / not-yet-valid certificates come from `openssl ca`
// with explicit -startdate / -enddate (OpenSSL 3.0's `x509 -req` cannot set
// dates in the past).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const OPENSSL = process.env.OCPP_TEST_OPENSSL || 'openssl';

/** Runs openssl with `args` in `cwd`; throws with its stderr on failure. */
export function openssl(args, { cwd, input } = {}) {
  try {
    return execFileSync(OPENSSL, args, { cwd, input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 }).toString('utf8');
  } catch (err) {
    throw new Error(`openssl ${args.join(' ')} failed: ${err.stderr?.toString() || err.message}`);
  }
}

const SERVER_EXT = [
  'basicConstraints=critical,CA:FALSE',
  'keyUsage=critical,digitalSignature,keyEncipherment',
  'extendedKeyUsage=serverAuth',
  'subjectAltName=DNS:localhost,IP:127.0.0.1',
].join('\n');

const CLIENT_EXT = [
  'basicConstraints=critical,CA:FALSE',
  'keyUsage=critical,digitalSignature,keyEncipherment',
  'extendedKeyUsage=clientAuth',
].join('\n');

const CA_EXT = [
  'basicConstraints=critical,CA:TRUE',
  'keyUsage=critical,keyCertSign,cRLSign',
  'subjectKeyIdentifier=hash',
].join('\n');

export class Pki {
  constructor(dir = mkdtempSync(join(tmpdir(), 'ocpp-pki-'))) {
    this.dir = dir;
    this.serial = 0x1000;
    writeFileSync(join(dir, 'server.ext'), SERVER_EXT);
    writeFileSync(join(dir, 'client.ext'), CLIENT_EXT);
    writeFileSync(join(dir, 'ca.ext'), CA_EXT);
  }

  path(name) {
    return join(this.dir, name);
  }

  read(name) {
    return readFileSync(this.path(name));
  }

  /** A private key: {rsa: bits} or {ec: 'prime256v1'}. */
  key(name, spec = { ec: 'prime256v1' }) {
    const file = `${name}.key`;
    if (spec.rsa) openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${spec.rsa}`, '-out', file], { cwd: this.dir });
    else openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${spec.ec}`, '-out', file], { cwd: this.dir });
    return this.path(file);
  }

  /** A self-signed CA certificate `name`.crt with key `name`.key. */
  ca(name, cn, keySpec = { rsa: 2048 }) {
    this.key(name, keySpec);
    openssl(['req', '-new', '-x509', '-key', `${name}.key`, '-out', `${name}.crt`, '-days', '30',
      '-subj', `/O=OCPP interop tests/CN=${cn}`, '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-sha256'], { cwd: this.dir });
    return { cert: this.path(`${name}.crt`), key: this.path(`${name}.key`), name };
  }

  /** A leaf certificate signed by `issuer` (a ca() result), valid for `days` from now. */
  leaf(name, cn, { issuer, keySpec = { ec: 'prime256v1' }, server = false, days = 30 } = {}) {
    this.key(name, keySpec);
    openssl(['req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', `/O=OCPP interop tests/CN=${cn}`], { cwd: this.dir });
    const serial = `0x${(this.serial++).toString(16)}`;
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer.name}.crt`, '-CAkey', `${issuer.name}.key`,
      '-set_serial', serial, '-days', String(days), '-sha256', '-extfile', server ? 'server.ext' : 'client.ext',
      '-out', `${name}.crt`], { cwd: this.dir });
    return { cert: this.path(`${name}.crt`), key: this.path(`${name}.key`), name, cn, serial };
  }

  /** A self-signed leaf (no CA at all). */
  selfSigned(name, cn) {
    this.key(name);
    openssl(['req', '-new', '-x509', '-key', `${name}.key`, '-out', `${name}.crt`, '-days', '30',
      '-subj', `/O=OCPP interop tests/CN=${cn}`, '-sha256'], { cwd: this.dir });
    return { cert: this.path(`${name}.crt`), key: this.path(`${name}.key`), name, cn };
  }

  /**
   * A leaf signed by `issuer` with explicit validity (YYYYMMDDHHMMSSZ), via
   * `openssl ca` and a minimal CA database.
   */
  leafWithDates(name, cn, { issuer, startDate, endDate }) {
    const db = `${name}-db`;
    writeFileSync(this.path(`${db}.index`), '');
    writeFileSync(this.path(`${db}.serial`), (this.serial++).toString(16).padStart(4, '0') + '\n');
    writeFileSync(this.path(`${db}.cnf`), [
      '[ca]', 'default_ca = testca', '',
      '[testca]',
      `dir = ${this.dir}`,
      `database = $dir/${db}.index`,
      `serial = $dir/${db}.serial`,
      'new_certs_dir = $dir',
      `certificate = $dir/${issuer.name}.crt`,
      `private_key = $dir/${issuer.name}.key`,
      'default_md = sha256',
      'policy = policy_any',
      'unique_subject = no',
      'x509_extensions = client_ext',
      'copy_extensions = none', '',
      '[policy_any]', 'organizationName = optional', 'commonName = supplied', '',
      '[client_ext]', ...CLIENT_EXT.split('\n'), '',
    ].join('\n'));
    this.key(name);
    openssl(['req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', `/O=OCPP interop tests/CN=${cn}`], { cwd: this.dir });
    openssl(['ca', '-config', `${db}.cnf`, '-batch', '-notext', '-startdate', startDate, '-enddate', endDate,
      '-in', `${name}.csr`, '-out', `${name}.crt`], { cwd: this.dir });
    return { cert: this.path(`${name}.crt`), key: this.path(`${name}.key`), name, cn };
  }

  /** {subject, serial, notBefore, notAfter} of a certificate file. */
  describe(certPath) {
    const out = openssl(['x509', '-in', certPath, '-noout', '-subject', '-serial', '-startdate', '-enddate', '-nameopt', 'RFC2253']);
    const get = (k) => out.match(new RegExp(`^${k}=\\s*(.*)$`, 'm'))?.[1]?.trim();
    return { subject: get('subject'), serial: get('serial'), notBefore: get('notBefore'), notAfter: get('notAfter') };
  }

  remove() {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A YYYYMMDDHHMMSSZ time `days` from now (negative: in the past). */
export function asn1Time(days) {
  const d = new Date(Date.now() + days * 86_400_000);
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
}

/**
 * The PKI every security test starts from: a test CA and the gateway's
 * server certificates, RSA 2048 and ECDSA P-256 (CN localhost, SAN
 * localhost / 127.0.0.1), both signed by the CA.
 */
export function standardPki() {
  const pki = new Pki();
  const ca = pki.ca('ca', 'OCPP interop test CA');
  const serverRsa = pki.leaf('server-rsa', 'localhost', { issuer: ca, keySpec: { rsa: 2048 }, server: true });
  const serverEc = pki.leaf('server-ec', 'localhost', { issuer: ca, server: true });
  return { pki, ca, serverRsa, serverEc };
}
