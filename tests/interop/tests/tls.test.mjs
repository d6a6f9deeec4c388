// The gateway's TLS listener (security profile 2) checked from outside with
// the openssl CLI (`openssl s_client`): protocol versions, the exact cipher
// suites of TLS 1.2 and 1.3, RSA and ECDSA certificates side by side, no
// compression, no renegotiation, and certificate reload while a station
// stays connected. sslscan / testssl.sh are used when installed (they are
// not installed by scripts/setup.sh; the test says so and skips).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

import { startGateway, randomHex, withGatewayLog } from '../lib/gateway.mjs';
import { standardPki, openssl } from '../lib/pki.mjs';
import { hashPassword, writeRegistry, sClient, sClientSession, SecureStation } from '../lib/security.mjs';
import { TopicReader, TOPICS } from '../lib/kafka.mjs';

const PW = 'tls-Station-pw';

// TLS 1.2: exactly these are accepted (gateway/tls.cpp kCiphers12).
const TLS12_ALLOWED = [
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384',
];
// Offered alone, each of these must be refused (handshake_failure alert).
const TLS12_REFUSED = [
  'ECDHE-RSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA', 'ECDHE-RSA-AES128-SHA256', 'ECDHE-ECDSA-AES256-SHA384', // CBC
  'AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'AES128-SHA256', 'AES256-SHA',                                  // RSA key exchange
  'DHE-RSA-AES128-GCM-SHA256', 'DHE-RSA-AES256-GCM-SHA384',                                                 // finite-field DHE
  'ECDHE-RSA-CHACHA20-POLY1305', 'ECDHE-ECDSA-CHACHA20-POLY1305',                                           // CHACHA20
  'ECDHE-ECDSA-AES128-CCM', 'ECDHE-ECDSA-AES256-CCM8',                                                      // CCM
];
const TLS13_ALLOWED = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384'];
const TLS13_REFUSED = ['TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_CCM_SHA256', 'TLS_AES_128_CCM_8_SHA256'];

/** What s_client negotiated: {protocol, cipher} or null when the handshake failed. */
function negotiated(out) {
  const m = out.match(/^New, (TLSv[\d.]+), Cipher is (\S+)/m);
  return m ? { protocol: m[1], cipher: m[2] } : null;
}

/** The server certificate s_client printed: {subject, serial, bits, keyType}. */
function peerCertificate(out) {
  const pem = out.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0];
  assert.ok(pem, 's_client printed the server certificate');
  const text = openssl(['x509', '-noout', '-serial', '-subject', '-nameopt', 'RFC2253'], { input: pem });
  return {
    serial: text.match(/^serial=(\S+)/m)?.[1],
    subject: text.match(/^subject=(.*)$/m)?.[1]?.trim(),
    bits: Number(out.match(/^Server public key is (\d+) bit/m)?.[1]),
  };
}

/** The client could not even offer the suite (not in this OpenSSL build): not a server verdict. */
function clientCannotOffer(out) {
  return /no cipher match|no ciphers available|Call to SSL_CONF_cmd\(.*\) failed|Error with command/i.test(out);
}

describe('TLS listener checked from outside with openssl s_client', () => {
  let gw;
  let pki;
  let ca;
  let caArgs;
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  before(async () => {
    const std = standardPki();
    pki = std.pki;
    ca = std.ca;
    // The gateway reads these paths; the reload test replaces their content.
    const registry = writeRegistry(pki.path('stations.yaml'), [{ id: 'CS21', hash: hashPassword(PW) }, { id: 'CS22', hash: hashPassword(PW) }]);
    gw = await startGateway({
      gatewayId: `it-tls-${randomHex(3)}`,
      extraArgs: ['--security-profile', '2', '--stations-file', registry,
        '--tls-cert', std.serverRsa.cert, '--tls-key', std.serverRsa.key,
        '--tls-cert', std.serverEc.cert, '--tls-key', std.serverEc.key],
    });
    caArgs = ['-CAfile', ca.cert, '-verify_return_error', '-verify_hostname', 'localhost'];
  });

  after(async () => {
    if (gw) await gw.stop();
    if (!gw?.failed) pki?.remove();
  });

  for (const [flag, name] of [['-tls1', 'TLS 1.0'], ['-tls1_1', 'TLS 1.1']]) {
    test(`${name} is refused (protocol_version alert)`, logOnFailure(async () => {
      // OpenSSL 3 clients need security level 0 to offer TLS < 1.2 at all.
      const r = await sClient(gw.port, [flag, '-cipher', 'DEFAULT@SECLEVEL=0']);
      assert.equal(negotiated(r.out)?.protocol ?? null, null, `no session: ${r.out.slice(-800)}`);
      assert.match(r.out, /alert protocol version/, 'the gateway answered with a protocol_version alert');
      // The failed session stanza names the version the client offered.
      assert.match(r.out, new RegExp(`Protocol\\s*:\\s*${flag === '-tls1' ? 'TLSv1\\b(?!\\.)' : 'TLSv1\\.1'}`), 'the client really offered this version');
    }));
  }

  for (const [flag, version] of [['-tls1_2', 'TLSv1.2'], ['-tls1_3', 'TLSv1.3']]) {
    test(`${version} is accepted, certificate verified, no compression`, logOnFailure(async () => {
      const r = await sClient(gw.port, [flag, ...caArgs]);
      assert.equal(r.code, 0, r.out.slice(-1500));
      assert.equal(negotiated(r.out)?.protocol, version);
      assert.match(r.out, /Verify return code: 0 \(ok\)/);
      assert.match(r.out, /^Compression: NONE$/m);
    }));
  }

  test('TLS 1.2: each of the four configured suites is accepted', logOnFailure(async (t) => {
    for (const cipher of TLS12_ALLOWED) {
      await t.test(cipher, async () => {
        const r = await sClient(gw.port, ['-tls1_2', '-cipher', cipher, ...caArgs]);
        assert.deepEqual(negotiated(r.out), { protocol: 'TLSv1.2', cipher }, r.out.slice(-1500));
        assert.match(r.out, /^Compression: NONE$/m);
      });
    }
  }));

  test('TLS 1.2: every other suite offered alone is refused', logOnFailure(async (t) => {
    for (const cipher of TLS12_REFUSED) {
      await t.test(cipher, async (tt) => {
        const r = await sClient(gw.port, ['-tls1_2', '-cipher', `${cipher}@SECLEVEL=0`]);
        if (clientCannotOffer(r.out)) { tt.skip(`this OpenSSL cannot offer ${cipher}`); return; }
        assert.equal(negotiated(r.out), null, `${cipher} was accepted:\n${r.out.slice(-1500)}`);
        assert.match(r.out, /alert handshake failure/, 'refused by the gateway (handshake_failure alert)');
      });
    }
  }));

  test('TLS 1.3: only the AES-GCM suites', logOnFailure(async (t) => {
    for (const suite of TLS13_ALLOWED) {
      await t.test(`${suite} accepted`, async () => {
        const r = await sClient(gw.port, ['-tls1_3', '-ciphersuites', suite, ...caArgs]);
        assert.deepEqual(negotiated(r.out), { protocol: 'TLSv1.3', cipher: suite }, r.out.slice(-1500));
      });
    }
    for (const suite of TLS13_REFUSED) {
      await t.test(`${suite} refused`, async (tt) => {
        const r = await sClient(gw.port, ['-tls1_3', '-ciphersuites', suite]);
        if (clientCannotOffer(r.out)) { tt.skip(`this OpenSSL cannot offer ${suite}`); return; }
        assert.equal(negotiated(r.out), null, `${suite} was accepted:\n${r.out.slice(-1500)}`);
        assert.match(r.out, /alert handshake failure/);
      });
    }
  }));

  test('RSA and ECDSA certificates are both served', logOnFailure(async (t) => {
    const cases = [
      ['TLS 1.2 ECDHE-RSA', ['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256'], 2048],
      ['TLS 1.2 ECDHE-ECDSA', ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256'], 256],
      ['TLS 1.3 sigalgs rsa_pss_rsae_sha256', ['-tls1_3', '-sigalgs', 'rsa_pss_rsae_sha256'], 2048],
      ['TLS 1.3 sigalgs ecdsa_secp256r1_sha256', ['-tls1_3', '-sigalgs', 'ecdsa_secp256r1_sha256'], 256],
    ];
    const serials = {};
    for (const [name, args, bits] of cases) {
      await t.test(`${name}: ${bits === 256 ? 'ECDSA P-256' : 'RSA 2048'} certificate`, async () => {
        const r = await sClient(gw.port, [...args, ...caArgs]);
        assert.ok(negotiated(r.out), r.out.slice(-1500));
        const cert = peerCertificate(r.out);
        assert.equal(cert.bits, bits);
        assert.match(cert.subject, /CN=localhost/);
        (serials[bits] ??= new Set()).add(cert.serial);
      });
    }
    assert.equal(serials[2048]?.size, 1);
    assert.equal(serials[256]?.size, 1);
    assert.notDeepEqual([...serials[2048]], [...serials[256]], 'two different certificates');
  }));

  test('client-initiated renegotiation (TLS 1.2) is refused', logOnFailure(async () => {
    // s_client renegotiates when a line "R" arrives on stdin (no -quiet / -ign_eof).
    const s = sClientSession(gw.port, ['-tls1_2', ...caArgs]);
    try {
      await s.waitFor(/^New, TLSv1\.2, Cipher is/m, 10_000);
      const mark = s.output().length;
      s.write('R\n');
      await s.waitFor(/RENEGOTIATING/, 10_000, mark);
      await s.waitFor(/no renegotiation|alert/i, 10_000, mark);
      const info = await Promise.race([s.exited, new Promise((r) => setTimeout(() => r(null), 10_000))]);
      assert.ok(info, 's_client ended after the refused renegotiation');
      assert.notEqual(info.code, 0, 'the renegotiation failed');
      assert.doesNotMatch(s.output().slice(mark), /Verify return code: 0[\s\S]*New, TLSv1\.2/, 'no second handshake completed');
    } finally {
      await s.stop();
    }
  }));

  test('a station that closes normally is gone at once (no wait for its TLS close_notify)', logOnFailure(async () => {
    const reader = await new TopicReader().connect();
    try {
      const from = await reader.snapshot([TOPICS.connections]);
      const station = new SecureStation({ endpoint: `wss://127.0.0.1:${gw.port}/ocpp`, identity: 'CS22', protocol: 'ocpp1.6', password: PW,
        wsOpts: { ca: readFileSync(ca.cert) } });
      await station.connect();
      await station.call('Heartbeat', {});
      const closedAt = Date.now();
      await station.close(1000, 'done');
      const { result } = await reader.waitFor([TOPICS.connections],
        (records) => records.find((r) => r.value?.type === 'Disconnected'),
        { from, key: 'CS22', timeoutMs: 20_000, what: "CS22's Disconnected record" });
      // The session ends when the WebSocket close handshake does; it used to stay for
      // websocketpp's 5 s TLS shutdown timeout, holding the per-address slot meanwhile.
      const held = Date.parse(result.value.at) - closedAt;
      assert.ok(held < 1_500, `the gateway held the closed connection for ${held} ms`);
      assert.equal(result.value.closeCode, 1000);
    } finally {
      await reader.close();
    }
  }));

  test('certificates are reloaded when the files change; an open connection keeps working', logOnFailure(async () => {
    const station = new SecureStation({ endpoint: `wss://127.0.0.1:${gw.port}/ocpp`, identity: 'CS21', protocol: 'ocpp1.6', password: PW,
      wsOpts: { ca: readFileSync(ca.cert) } });
    await station.connect();
    try {
      await station.call('Heartbeat', {});
      const before = {};
      for (const [alg, args] of [['rsa', ['-sigalgs', 'rsa_pss_rsae_sha256']], ['ec', ['-sigalgs', 'ecdsa_secp256r1_sha256']]]) {
        before[alg] = peerCertificate((await sClient(gw.port, ['-tls1_3', ...args, ...caArgs])).out);
      }
      const socketSerial = () => station.client._ws?._socket?.getPeerCertificate?.()?.serialNumber?.toUpperCase();
      const openSerial = socketSerial();

      // New certificates (new keys, new serials, another CN), written next to
      // the old files and renamed over them: the gateway never reads half a file.
      const fresh = {
        rsa: pki.leaf('server-rsa-new', 'reloaded.localhost', { issuer: ca, keySpec: { rsa: 2048 }, server: true }),
        ec: pki.leaf('server-ec-new', 'reloaded.localhost', { issuer: ca, server: true }),
      };
      for (const [alg, c] of Object.entries(fresh)) {
        const target = alg === 'rsa' ? 'server-rsa' : 'server-ec';
        renameSync(c.key, pki.path(`${target}.key`));
        renameSync(c.cert, pki.path(`${target}.crt`));
      }
      const t0 = Date.now();
      // The gateway checks the files every 3 s; a new connection shows the
      // result. Polling is how an external observer sees it (bounded: 12 s).
      let after = {};
      while (Date.now() - t0 < 12_000) {
        after = {};
        for (const [alg, args] of [['rsa', ['-sigalgs', 'rsa_pss_rsae_sha256']], ['ec', ['-sigalgs', 'ecdsa_secp256r1_sha256']]]) {
          const r = await sClient(gw.port, ['-tls1_3', ...args, ...caArgs]);
          if (negotiated(r.out)) after[alg] = peerCertificate(r.out);
        }
        if (after.rsa?.subject?.includes('reloaded.localhost') && after.ec?.subject?.includes('reloaded.localhost')) break;
        await new Promise((r) => setTimeout(r, 300));
      }
      const elapsed = Date.now() - t0;
      assert.match(after.rsa?.subject ?? '', /CN=reloaded\.localhost/, `RSA certificate not reloaded within 12 s (${JSON.stringify(after.rsa)})`);
      assert.match(after.ec?.subject ?? '', /CN=reloaded\.localhost/, `ECDSA certificate not reloaded within 12 s (${JSON.stringify(after.ec)})`);
      assert.ok(elapsed < 10_000, `reloaded after ${elapsed} ms (checked every 3 s)`);
      assert.notEqual(after.rsa.serial, before.rsa.serial);
      assert.notEqual(after.ec.serial, before.ec.serial);
      assert.equal(after.rsa.bits, 2048);
      assert.equal(after.ec.bits, 256);

      // The connection opened before the reload still works, on its old certificate.
      const hb = await station.call('Heartbeat', {});
      assert.equal(typeof hb.reply.currentTime, 'string');
      if (openSerial) assert.ok([before.rsa.serial, before.ec.serial].includes(openSerial), `open connection still on an old certificate (${openSerial})`);
    } finally {
      await station.close().catch(() => {});
    }
  }));

  test('sslscan / testssl.sh (when installed)', logOnFailure(async (t) => {
    const have = (cmd) => { try { execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'pipe' }); return true; } catch { return false; } };
    const tools = ['sslscan', 'testssl.sh', 'testssl'].filter(have);
    if (tools.length === 0) { t.skip('neither sslscan nor testssl.sh is installed (not installed by scripts/setup.sh)'); return; }
    if (tools.includes('sslscan')) {
      const out = execFileSync('sslscan', ['--no-colour', `127.0.0.1:${gw.port}`], { timeout: 60_000 }).toString('utf8');
      const accepted = [...out.matchAll(/^(?:Preferred|Accepted)\s+(TLSv[\d.]+)\s+\d+ bits\s+(\S+)/gm)].map((m) => `${m[1]} ${m[2]}`);
      const ok = new Set([...TLS12_ALLOWED.map((c) => `TLSv1.2 ${c}`), ...TLS13_ALLOWED.map((c) => `TLSv1.3 ${c}`)]);
      assert.deepEqual(accepted.filter((a) => !ok.has(a)), [], 'sslscan found other accepted suites');
      assert.doesNotMatch(out, /TLSv1\.[01]\s+enabled/, 'TLS 1.0 / 1.1 disabled');
    }
  }));
});
