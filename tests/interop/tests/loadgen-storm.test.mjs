// ocpp-loadgen against the gateway: its storm mode (every connection reset at once, the
// stations back at a paced rate) over ws:// and over wss:// with security profiles 2 and 3,
// TLS session resumption, and clear connection errors. Each station's StatusNotification
// after the storm is read back from the status topic: nothing lost, nothing twice.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { startGateway, randomHex, withGatewayLog } from '../lib/gateway.mjs';
import { standardPki } from '../lib/pki.mjs';
import { hashPassword, writeRegistry } from '../lib/security.mjs';
import { TopicReader, TOPICS } from '../lib/kafka.mjs';
import { REPO_ROOT } from '../lib/paths.mjs';

const LOADGEN_BIN = process.env.OCPP_LOADGEN_BIN || join(REPO_ROOT, 'build', 'bin', 'ocpp-loadgen');
const PW = 'storm-Station-pw';

function runLoadgen(args, timeoutMs = 60_000) {
  return new Promise((resolve, reject) => {
    const child = spawn(LOADGEN_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, out, err }); });
  });
}

const ids = (prefix, n) => Array.from({ length: n }, (_, i) => `${prefix}${String(i + 1).padStart(6, '0')}`);

/** The storm's report: every station dropped, back, booted and its first CALL answered. */
function assertStormComplete(report, n, raw) {
  assert.equal(report.mode, 'storm', raw);
  assert.equal(report.storm.dropped, n, raw);
  assert.equal(report.storm.booted, n, raw);
  assert.equal(report.storm.failed, 0, raw);
  assert.equal(report.storm.first_call.call_results, n, raw);
  assert.equal(report.storm.first_call.call_errors + report.storm.first_call.timeouts + report.storm.first_call.lost, 0, raw);
  assert.equal(report.storm.to_booted_ms.samples, n, raw);
  assert.equal(report.storm.first_call_ms.samples, n, raw);
  assert.equal(report.boot.accepted, 2 * n, raw);   // ramp-up and storm
}

/**
 * Since `from`, on the status topic, each station's records in order: the ramp-up's
 * BootNotification, the storm's BootNotification and its StatusNotification, the last two
 * in a session of their own.
 */
async function assertEachStationOnce(reader, from, stations) {
  const records = await reader.readToEnd([TOPICS.status], { from, key: stations, timeoutMs: 30_000 });
  const byStation = new Map();
  for (const r of records) {
    if (!byStation.has(r.key)) byStation.set(r.key, []);
    byStation.get(r.key).push(r);
  }
  for (const id of stations) {
    const recs = byStation.get(id) ?? [];
    assert.deepEqual(recs.map((r) => r.headers['ocpp-action']),
      ['BootNotification', 'BootNotification', 'StatusNotification'], id);
    const sessions = recs.map((r) => JSON.parse(r.text).sessionId);
    assert.notEqual(sessions[0], sessions[1], `${id}: the storm's connection is a new session`);
    assert.equal(sessions[1], sessions[2], id);
  }
}

describe('ocpp-loadgen storm mode and wss:// against the gateway', () => {
  let reader;
  let std;
  before(async () => {
    reader = await new TopicReader().connect();
    std = standardPki();
  });
  after(async () => {
    await reader?.close();
    std?.pki.remove();
  });

  describe('plain ws://', () => {
    let gw;
    before(async () => { gw = await startGateway({ gatewayId: `it-storm-${randomHex(3)}` }); });
    after(async () => { await gw?.stop(); });

    test('every station comes back after the drop and its first CALL is on the topic once', withGatewayLog(() => gw, async () => {
      const prefix = `ST${randomHex(3)}-`;
      const n = 40;
      const from = await reader.snapshot([TOPICS.status]);
      const run = await runLoadgen(['--url', `ws://127.0.0.1:${gw.port}/ocpp`, '--id-prefix', prefix,
        '--stations', String(n), '--storm', '--connect-rate', '200', '--warmup', '0.5', '--json']);
      assert.equal(run.code, 0, run.err);
      const report = JSON.parse(run.out);
      assertStormComplete(report, n, run.out);
      assert.ok(report.storm.all_booted_s > 0 && report.storm.all_booted_s < 30, run.out);
      await assertEachStationOnce(reader, from, ids(prefix, n));
    }));

    test('options that need wss:// are refused on ws://', async () => {
      const run = await runLoadgen(['--url', `ws://127.0.0.1:${gw.port}/ocpp`, '--ca-file', std.ca.cert, '--stations', '1']);
      assert.equal(run.code, 2);
      assert.match(run.err, /need a wss:\/\/ --url/);
    });
  });

  describe('wss:// with Basic authentication (profile 2)', () => {
    let gw;
    let registry;
    const prefix = `SP${randomHex(3)}-`;
    const n = 12;
    before(async () => {
      const hash = hashPassword(PW);
      registry = writeRegistry(std.pki.path(`storm-registry-${prefix}.yaml`), ids(prefix, n).map((id) => ({ id, hash })));
      gw = await startGateway({
        gatewayId: `it-storm-tls-${randomHex(3)}`,
        extraArgs: ['--security-profile', '2', '--stations-file', registry,
          '--tls-cert', std.serverEc.cert, '--tls-key', std.serverEc.key],
      });
    });
    after(async () => { await gw?.stop(); });

    test('a storm over TLS resumes every session the gateway issued', withGatewayLog(() => gw, async () => {
      const from = await reader.snapshot([TOPICS.status]);
      const run = await runLoadgen(['--url', `wss://localhost:${gw.port}/ocpp`, '--ca-file', std.ca.cert,
        '--password', PW, '--id-prefix', prefix, '--stations', String(n), '--storm', '--tls-resume',
        '--connect-rate', '100', '--warmup', '0.5', '--json']);
      assert.equal(run.code, 0, run.err);
      const report = JSON.parse(run.out);
      assertStormComplete(report, n, run.out);
      assert.equal(report.storm.tls_resumed, n, run.out);
      await assertEachStationOnce(reader, from, ids(prefix, n));
    }));

    test('a wrong password and an unknown CA are reported as such', withGatewayLog(() => gw, async () => {
      const wrong = await runLoadgen(['--url', `wss://127.0.0.1:${gw.port}/ocpp`, '--ca-file', std.ca.cert,
        '--password', 'not-it', '--id-prefix', prefix, '--stations', '1', '--rate', '1', '--duration', '1', '--json']);
      assert.equal(wrong.code, 1, wrong.err);
      assert.deepEqual(JSON.parse(wrong.out).connections.errors, { 'HTTP 401 unauthorized': 1 });
      const untrusted = await runLoadgen(['--url', `wss://127.0.0.1:${gw.port}/ocpp`, '--ca-file', std.serverRsa.cert,
        '--password', PW, '--id-prefix', prefix, '--stations', '1', '--rate', '1', '--duration', '1', '--json']);
      assert.equal(untrusted.code, 1, untrusted.err);
      assert.deepEqual(JSON.parse(untrusted.out).connections.errors,
        { 'TLS: server certificate: unable to get local issuer certificate': 1 });
    }));
  });

  describe('wss:// with client certificates (profile 3)', () => {
    let gw;
    const prefix = `SC${randomHex(3)}-`;
    const n = 3;
    before(async () => {
      for (const id of ids(prefix, n)) std.pki.leaf(id, id, { issuer: std.ca });
      const registry = writeRegistry(std.pki.path(`storm-registry-${prefix}.yaml`), ids(prefix, n).map((id) => ({ id })));
      gw = await startGateway({
        gatewayId: `it-storm-mtls-${randomHex(3)}`,
        extraArgs: ['--security-profile', '3', '--stations-file', registry, '--tls-ca', std.ca.cert,
          '--tls-cert', std.serverRsa.cert, '--tls-key', std.serverRsa.key],
      });
    });
    after(async () => { await gw?.stop(); });

    test('each station presents its own certificate ({id} in the paths) and resumes its session', withGatewayLog(() => gw, async () => {
      const from = await reader.snapshot([TOPICS.status]);
      const run = await runLoadgen(['--url', `wss://127.0.0.1:${gw.port}/ocpp`, '--ca-file', std.ca.cert,
        '--client-cert', std.pki.path('{id}.crt'), '--client-key', std.pki.path('{id}.key'),
        '--id-prefix', prefix, '--stations', String(n), '--storm', '--tls-resume', '--connect-rate', '50',
        '--warmup', '0.5', '--json']);
      assert.equal(run.code, 0, run.err);
      const report = JSON.parse(run.out);
      assertStormComplete(report, n, run.out);
      assert.equal(report.storm.tls_resumed, n, run.out);
      await assertEachStationOnce(reader, from, ids(prefix, n));
    }));
  });
});
