// Behind a real load balancer: Debian's HAProxy in TCP mode in front of two gateway instances,
// sending PROXY protocol v2 (proxy_protocol.trusted: the proxy's address). The gateway knows
// each station by its own address (connection records, per-address limits), believes a PROXY
// header only from the trusted proxy, closes the proxy's connections that lack one, reads a
// v1 header too, and a station whose instance stops comes back through the proxy on the other.
// Stations use their own loopback source addresses (127.0.0.x) so that they differ from the
// proxy's (127.0.0.1).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { RPCClient } from 'ocpp-rpc';

import { startGateway, freePorts, uniqueStationId, withGatewayLog, httpGet } from '../lib/gateway.mjs';
import { TopicReader, TOPICS } from '../lib/kafka.mjs';
import { rawUpgrade, writeRegistry } from '../lib/security.mjs';
import { standardPki, asn1Time } from '../lib/pki.mjs';
import { restGet } from '../lib/commands.mjs';

const HAPROXY = process.env.OCPP_HAPROXY_BIN || 'haproxy';

describe('behind HAProxy with the PROXY protocol', () => {
  let dir;
  let gws = [];
  let haproxy;
  let haproxyOutput = '';
  let proxyPort;
  let reader;
  let from;
  const logOnFailure = (fn) => withGatewayLog(() => gws.find((g) => g.failed) ?? gws[0], async (t) => {
    try {
      return await fn(t);
    } catch (err) {
      err.message += `\n--- haproxy ---\n${haproxyOutput.slice(-4000)}`;
      throw err;
    }
  });

  /** An OCPP 1.6 station through the proxy from `localAddress`; booted. */
  async function station(id, localAddress) {
    const client = new RPCClient({
      endpoint: `ws://127.0.0.1:${proxyPort}/ocpp`, identity: id, protocols: ['ocpp1.6'],
      strictMode: true, reconnect: false, wsOpts: { localAddress },
    });
    await client.connect();
    const boot = await client.call('BootNotification', { chargePointVendor: 'Interop', chargePointModel: 'LB-1' });
    assert.equal(boot.status, 'Accepted');
    return client;
  }

  /** The running instance whose presence says `id` is connected to it (a stopped one cannot answer). */
  async function instanceOf(id) {
    for (let i = 0; i < 50; i++) {
      for (const gw of gws.filter((g) => g.running)) {
        const res = await restGet(gw.adminPort, `/v1/stations/${encodeURIComponent(id)}`);
        if (res.status === 200 && res.body?.connected && res.body.gatewayId === gw.gatewayId) return gw;
      }
      await delay(100);
    }
    return null;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ocpp-lb-'));
    const config = join(dir, 'gateway.yaml');
    writeFileSync(config, [
      'proxy_protocol:',
      '  trusted: [127.0.0.1]',
      'security:',
      '  connections_per_address: 2',
      '',
    ].join('\n'));
    gws = [await startGateway({ extraArgs: ['--config', config] }), await startGateway({ extraArgs: ['--config', config] })];
    [proxyPort] = await freePorts(1);
    const cfg = join(dir, 'haproxy.cfg');
    // Source hashing: one station address always reaches the same instance while it is up.
    writeFileSync(cfg, [
      'global',
      '  maxconn 2000',
      'defaults',
      '  mode tcp',
      '  timeout connect 2s',
      '  timeout client 120s',
      '  timeout server 120s',
      'frontend stations',
      `  bind 127.0.0.1:${proxyPort}`,
      '  default_backend gateways',
      'backend gateways',
      '  balance source',
      '  option httpchk',
      '  http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host localhost',
      ...gws.map((gw, i) => `  server gw${i} 127.0.0.1:${gw.port} send-proxy-v2 check port ${gw.adminPort} inter 300 fall 1 rise 2`),
      '',
    ].join('\n'));
    haproxy = spawn(HAPROXY, ['-f', cfg, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
    haproxy.stdout.on('data', (d) => { haproxyOutput += d; });
    haproxy.stderr.on('data', (d) => { haproxyOutput += d; });
    // Up once a station gets through.
    let lastError;
    for (let i = 0; i < 50; i++) {
      const probe = await rawUpgrade({ port: proxyPort, path: `/ocpp/${uniqueStationId('ITLBP')}`, localAddress: '127.0.0.2', timeoutMs: 2_000 });
      if (probe.status === 101) break;
      lastError = JSON.stringify(probe);
      await delay(200);
      if (i === 49) throw new Error(`HAProxy never passed a station through: ${lastError}\n${haproxyOutput}`);
    }
    reader = await new TopicReader().connect();
    from = await reader.snapshot([TOPICS.connections]);
  });

  after(async () => {
    haproxy?.kill('SIGTERM');
    for (const gw of gws) {
      if (gw.running) await gw.stop();
    }
    await reader?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a station through the proxy is known by its own address and port', logOnFailure(async () => {
    const id = uniqueStationId('ITLBA');
    const client = await station(id, '127.0.0.7');
    const localPort = client._ws._socket.localPort;
    try {
      const { records } = await reader.waitFor([TOPICS.connections], (recs) => recs.some((r) => r.value?.type === 'Connected'),
        { from, key: id, timeoutMs: 10_000, what: `Connected record of ${id}` });
      const connected = records.find((r) => r.value?.type === 'Connected');
      assert.equal(connected.value.address, `127.0.0.7:${localPort}`, 'the station\'s address, not the proxy\'s');
    } finally {
      await client.close({ force: true });
    }
  }));

  test('per-address limits count each station address, not the proxy\'s', logOnFailure(async () => {
    const clients = [];
    try {
      clients.push(await station(uniqueStationId('ITLBL'), '127.0.0.8'));
      clients.push(await station(uniqueStationId('ITLBL'), '127.0.0.8'));
      // The third from the same address: over connections_per_address (2).
      const third = await rawUpgrade({ port: proxyPort, path: `/ocpp/${uniqueStationId('ITLBL')}`, localAddress: '127.0.0.8' });
      assert.equal(third.status, 503, `third connection from 127.0.0.8: ${JSON.stringify(third.statusLine ?? third)}`);
      // Another address through the same proxy is still let in.
      clients.push(await station(uniqueStationId('ITLBL'), '127.0.0.9'));
    } finally {
      await Promise.all(clients.map((c) => c.close({ force: true })));
    }
  }));

  test('a PROXY header is believed from the trusted proxy only', logOnFailure(async () => {
    const gw = gws[0];
    // v1 from the trusted address (127.0.0.1), straight to the gateway: the header's address counts.
    const v1id = uniqueStationId('ITLBV');
    const v1 = await rawUpgrade({ port: gw.port, path: `/ocpp/${v1id}`, localAddress: '127.0.0.1', keepOpen: true,
      prefix: `PROXY TCP4 203.0.113.9 127.0.0.1 40000 ${gw.port}\r\n` });
    assert.equal(v1.status, 101, `v1 header from the trusted proxy: ${JSON.stringify(v1.statusLine ?? v1)}`);
    const { records } = await reader.waitFor([TOPICS.connections], (recs) => recs.some((r) => r.value?.type === 'Connected'),
      { from, key: v1id, timeoutMs: 10_000, what: `Connected record of ${v1id}` });
    assert.equal(records.find((r) => r.value?.type === 'Connected').value.address, '203.0.113.9:40000');
    v1.socket.destroy();

    // The same header from an address that is not trusted is not a header: the request is not HTTP.
    const spoofed = await rawUpgrade({ port: gw.port, path: `/ocpp/${uniqueStationId('ITLBS')}`, localAddress: '127.0.0.5',
      prefix: `PROXY TCP4 203.0.113.66 127.0.0.1 40000 ${gw.port}\r\n` });
    assert.ok(spoofed.status === 400 || spoofed.closed, `spoofed header: ${JSON.stringify(spoofed.statusLine ?? spoofed)}`);
    assert.notEqual(spoofed.status, 101);
    // Without one, that address is served directly as usual.
    const direct = await rawUpgrade({ port: gw.port, path: `/ocpp/${uniqueStationId('ITLBD')}`, localAddress: '127.0.0.5' });
    assert.equal(direct.status, 101, 'a direct station from an untrusted address');

    // The trusted proxy's connection without a header is closed unanswered, and counted.
    const before = await httpGet(gw.adminUrl('/metrics'));
    const count = (text) => Number(/^ocpp_handshakes_refused_total\{reason="proxy_header"\} (\d+)$/m.exec(text)?.[1] ?? 0);
    const bare = await rawUpgrade({ port: gw.port, path: `/ocpp/${uniqueStationId('ITLBN')}`, localAddress: '127.0.0.1' });
    assert.equal(bare.status ?? null, null, `no header from the trusted proxy: ${JSON.stringify(bare.statusLine ?? bare)}`);
    assert.ok(bare.closed, 'the connection was closed');
    const after = await httpGet(gw.adminUrl('/metrics'));
    assert.equal(count(after.text), count(before.text) + 1, 'ocpp_handshakes_refused_total{reason="proxy_header"}');
  }));

  test('a station whose instance stops comes back through the proxy on the other', logOnFailure(async () => {
    const id = uniqueStationId('ITLBF');
    const first = await station(id, '127.0.0.11');
    const home = await instanceOf(id);
    assert.ok(home, 'no instance reports the station connected');
    const closed = new Promise((resolve) => first.once('close', resolve));
    await home.stop();
    await closed;
    const other = gws.find((g) => g !== home);
    // The proxy's health check (every 300 ms on /readyz) takes the stopped instance out.
    let again;
    for (let i = 0; i < 30 && !again; i++) {
      again = await station(id, '127.0.0.11').catch(() => null);
      if (!again) await delay(200);
    }
    assert.ok(again, 'the station could not reconnect through the proxy');
    try {
      assert.equal((await instanceOf(id))?.gatewayId, other.gatewayId, 'the station is on the other instance');
      const hb = await again.call('Heartbeat', {});
      assert.equal(typeof hb.currentTime, 'string');
    } finally {
      await again.close({ force: true });
    }
  }));
});

// Security profile 3 with TLS terminated at HAProxy (HTTP mode, verifying nothing itself):
// it forwards the station's certificate as base64 DER in X-SSL-Client-Cert, and the gateway
// (tls.offload, trusting the header from 127.0.0.1 only) verifies it as its own TLS would.
describe('TLS terminated at HAProxy, client certificate forwarded (profile 3)', () => {
  let dir;
  let pki;
  let gw;
  let haproxy;
  let haproxyOutput = '';
  let tlsPort;
  let std;
  let stranger;
  let caFile;
  const ids = { good: uniqueStationId('ITOFG'), other: uniqueStationId('ITOFO'), foreign: uniqueStationId('ITOFF'),
    expired: uniqueStationId('ITOFE'), none: uniqueStationId('ITOFN') };
  const certs = {};
  const logOnFailure = (fn) => withGatewayLog(() => gw, async (t) => {
    try {
      return await fn(t);
    } catch (err) {
      err.message += `\n--- haproxy ---\n${haproxyOutput.slice(-4000)}`;
      throw err;
    }
  });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ocpp-offload-'));
    std = standardPki();
    pki = std.pki;
    // The gateway's own copy of the CA bundle, which a test replaces.
    caFile = join(dir, 'station-ca.pem');
    copyFileSync(std.ca.cert, caFile);
    certs.good = pki.leaf('good', ids.good, { issuer: std.ca });
    certs.other = pki.leaf('other', `${ids.other}-not-me`, { issuer: std.ca });
    stranger = pki.ca('stranger', 'Some other CA');
    certs.foreign = pki.leaf('foreign', ids.foreign, { issuer: stranger });
    certs.expired = pki.leafWithDates('expired', ids.expired, { issuer: std.ca, startDate: asn1Time(-10), endDate: asn1Time(-1) });
    const registry = writeRegistry(join(dir, 'stations.yaml'), Object.values(ids).map((id) => ({ id })));
    const config = join(dir, 'gateway.yaml');
    writeFileSync(config, [
      'security:',
      '  profile: 3',
      'tls:',
      '  offload: true',
      '  offload_from: [127.0.0.1]',
      '  client_cert_header: X-SSL-Client-Cert',
      `  ca_file: ${caFile}`,
      '',
    ].join('\n'));
    gw = await startGateway({ extraArgs: ['--config', config, '--stations-file', registry] });
    [tlsPort] = await freePorts(1);
    const bundle = join(dir, 'server.pem');
    writeFileSync(bundle, Buffer.concat([readFileSync(std.serverEc.cert), readFileSync(std.serverEc.key)]));
    const cfg = join(dir, 'haproxy.cfg');
    writeFileSync(cfg, [
      'global',
      '  maxconn 200',
      'defaults',
      '  mode http',
      '  timeout connect 2s',
      '  timeout client 60s',
      '  timeout server 60s',
      '  timeout tunnel 120s',
      'frontend stations',
      // Asks for a client certificate and passes on whatever it gets: the gateway decides.
      `  bind 127.0.0.1:${tlsPort} ssl crt ${bundle} ca-file ${std.ca.cert} verify optional ca-ignore-err all crt-ignore-err all`,
      '  http-request del-header X-SSL-Client-Cert',
      '  http-request set-header X-SSL-Client-Cert %[ssl_c_der,base64] if { ssl_c_used }',
      '  default_backend gateway',
      'backend gateway',
      `  server gw 127.0.0.1:${gw.port}`,
      '',
    ].join('\n'));
    haproxy = spawn(HAPROXY, ['-f', cfg, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
    haproxy.stdout.on('data', (d) => { haproxyOutput += d; });
    haproxy.stderr.on('data', (d) => { haproxyOutput += d; });
    for (let i = 0; i < 50; i++) {
      const probe = await upgrade(ids.good, certs.good);
      if (probe.status === 101) return;
      await delay(200);
    }
    throw new Error(`HAProxy never passed a TLS station through\n${haproxyOutput}`);
  });

  after(async () => {
    haproxy?.kill('SIGTERM');
    if (gw) await gw.stop();
    pki?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A wss:// upgrade through HAProxy as `id`, presenting `cert` (or none). */
  function upgrade(id, cert) {
    const tls = { ca: readFileSync(join(pki.dir, 'ca.crt')), servername: 'localhost', rejectUnauthorized: true };
    if (cert) Object.assign(tls, { cert: readFileSync(cert.cert), key: readFileSync(cert.key) });
    return rawUpgrade({ port: tlsPort, path: `/ocpp/${id}`, tls, timeoutMs: 5_000 });
  }

  test('the station\'s own certificate lets it in; others are refused by the gateway', logOnFailure(async () => {
    assert.equal((await upgrade(ids.good, certs.good)).status, 101, 'a certificate naming the station');
    for (const [name, id, cert] of [['a certificate naming someone else', ids.other, certs.other],
      ['a certificate from another CA', ids.foreign, certs.foreign],
      ['an expired certificate', ids.expired, certs.expired],
      ['no certificate', ids.none, null]]) {
      const res = await upgrade(id, cert);
      assert.equal(res.status, 401, `${name}: ${JSON.stringify(res.statusLine ?? res)}`);
    }
  }));

  test('a CA taken out of tls.ca_file lets nothing in once the file is read again (every 3 s)', logOnFailure(async () => {
    assert.equal((await upgrade(ids.good, certs.good)).status, 101, 'before the change');
    const untilStatus = async (want, what) => {
      const deadline = Date.now() + 10_000;
      let status;
      while ((status = (await upgrade(ids.good, certs.good)).status) !== want && Date.now() < deadline) {
        await delay(200);  // the file is checked every 3 s: only observable by trying again
      }
      assert.equal(status, want, what);
    };
    // The station's CA replaced by another (a compromised CA revoked, say).
    writeFileSync(caFile, readFileSync(stranger.cert));
    await untilStatus(401, 'still let in 10 s after its CA left tls.ca_file');
    // Put back, within seconds: a change all the same.
    writeFileSync(caFile, readFileSync(std.ca.cert));
    await untilStatus(101, 'not let in again 10 s after its CA came back');
  }));

  test('the header from anyone but the TLS terminator is not believed: refused', logOnFailure(async () => {
    // Straight to the gateway from 127.0.0.5 with the good certificate's DER in the header.
    const der = readFileSync(certs.good.cert, 'utf8').replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
    const forged = await rawUpgrade({ port: gw.port, path: `/ocpp/${ids.good}`, localAddress: '127.0.0.5',
      headers: { 'X-SSL-Client-Cert': der } });
    assert.equal(forged.status, 403, `a forwarded certificate from an untrusted address: ${JSON.stringify(forged.statusLine ?? forged)}`);
    const metrics = await httpGet(gw.adminUrl('/metrics'));
    assert.match(metrics.text, /^ocpp_handshakes_refused_total\{reason="not_from_tls_offloader"\} [1-9]/m);
  }));
});
