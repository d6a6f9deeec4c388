// What operators deploy (deploy/, README "Deployment"): the systemd unit passes
// `systemd-analyze verify` without a word and its hardening keeps the exposure score low; and
// the real gateway tells a service manager READY=1 once it serves and STOPPING=1 when it
// drains, over the notify socket a Type=notify unit gives it (here a socket of the test's own);
// a gateway still waiting for Kafka at start is alive for a liveness probe and says why it is
// not ready.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startGateway, httpGet, randomHex, freePort, GATEWAY_BIN } from '../lib/gateway.mjs';
import { REPO_ROOT } from '../lib/paths.mjs';

const UNIT = join(REPO_ROOT, 'deploy', 'systemd', 'ocpp-gateway.service');

const run = (cmd, args) => new Promise((resolve) => {
  execFile(cmd, args, { timeout: 60_000 }, (error, stdout, stderr) =>
    resolve({ code: error ? (error.code ?? -1) : 0, stdout, stderr }));
});

/** The unit with its ExecStart pointing at the gateway under test (verify checks it exists). */
function unitUnderTest(dir) {
  const text = readFileSync(UNIT, 'utf8');
  assert.match(text, /^ExecStart=\/usr\/local\/bin\/ocpp-gateway /m);
  const path = join(dir, 'ocpp-gateway.service');
  writeFileSync(path, text.replace('/usr/local/bin/ocpp-gateway', GATEWAY_BIN));
  return path;
}

describe('deployment', () => {
  test('systemd unit: verify is silent, exposure at most 1.9 of 10', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ocpp-unit-'));
    try {
      const unit = unitUnderTest(dir);
      const verify = await run('systemd-analyze', ['verify', unit]);
      assert.equal(verify.code, 0, `verify: ${verify.stderr}`);
      assert.equal(`${verify.stdout}${verify.stderr}`.trim(), '', 'systemd-analyze verify printed warnings');
      // The threshold is the exposure level × 10: "1.5 OK" is 15.
      const security = await run('systemd-analyze', ['security', '--offline=true', '--threshold=19', unit]);
      assert.equal(security.code, 0, `exposure above 1.9:\n${security.stdout}${security.stderr}`);
      // The check can fail: the same unit without its hardening is refused.
      writeFileSync(unit, readFileSync(unit, 'utf8').replace(/^(Protect|Restrict|SystemCall|Capability|Private|NoNewPriv|Memory|Lock)[^\n]*\n/gm, ''));
      const bare = await run('systemd-analyze', ['security', '--offline=true', '--threshold=19', unit]);
      assert.notEqual(bare.code, 0, 'an unhardened unit passed the exposure threshold');
      const text = readFileSync(UNIT, 'utf8');
      const stop = Number(/^TimeoutStopSec=(\d+)s$/m.exec(text)?.[1]);
      const example = readFileSync(join(REPO_ROOT, 'deploy', 'gateway.example.yaml'), 'utf8');
      const drain = Number(/^drain_timeout_s: (\d+)/m.exec(example)?.[1]);
      assert.ok(stop > drain, `TimeoutStopSec ${stop} s must exceed drain_timeout_s ${drain} s`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the gateway notifies READY=1 once it serves and STOPPING=1 when it drains', async () => {
    // The service manager's end: an abstract unix datagram socket, each datagram printed as JSON.
    const name = `ocpp-gateway-notify-${randomHex(6)}`;
    const manager = spawn('python3', ['-u', '-c', `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\\0" + sys.argv[1])
print("bound", flush=True)
while True:
    print(json.dumps(s.recv(4096).decode()), flush=True)
`, name], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: manager.stdout })[Symbol.asyncIterator]();
    const next = async () => {
      const { value, done } = await lines.next();
      assert.ok(!done, 'the notify receiver ended');
      return value;
    };
    let gw;
    try {
      assert.equal(await next(), 'bound');
      gw = await startGateway({ env: { NOTIFY_SOCKET: `@${name}` } });
      const ready = JSON.parse(await next());
      assert.match(ready, /^READY=1\nSTATUS=serving stations on 127\.0\.0\.1:\d+$/);
      assert.equal((await httpGet(gw.adminUrl('/readyz'))).status, 200, 'ready when it said so');
      await gw.stop();
      gw = undefined;
      assert.equal(JSON.parse(await next()), 'STOPPING=1\nSTATUS=draining');
    } finally {
      gw?.kill();
      manager.kill();
      await once(manager, 'exit').catch(() => {});
    }
  });

  test('waiting for Kafka at start: /healthz 200, /readyz and /v1 503 saying so, /metrics served; SIGTERM ends it', async () => {
    // Nothing listens on this loopback port: the gateway waits for its cluster.
    const nowhere = `127.0.0.1:${await freePort()}`;
    const waiting = await startGateway({ brokers: nowhere, waitFor: '/healthz' });
    try {
      const ready = await httpGet(waiting.adminUrl('/readyz'));
      assert.equal(ready.status, 503);
      assert.match(ready.text, /starting, waiting for Kafka/);
      const commands = await httpGet(waiting.adminUrl('/v1/stations'));
      assert.equal(commands.status, 503, commands.text);
      assert.match(commands.text, /starting/);
      const metrics = await httpGet(waiting.adminUrl('/metrics'));
      assert.equal(metrics.status, 200);
      assert.match(metrics.text, /^ocpp_starting 1$/m);
      assert.match(metrics.text, /^ocpp_ready 0$/m);
      assert.match(metrics.text, /^process_resident_memory_bytes \d/m);
      assert.doesNotMatch(metrics.text, /ocpp_kafka_queue_depth/, 'no producer gauges before there is a producer');
      assert.ok(waiting.running, 'still waiting, not given up');
      const info = await waiting.stop(10_000);  // throws when it takes longer
      assert.equal(info.code, 0);
    } finally {
      waiting.kill();
    }
    // The same gateway against the real broker: starting 0 once it serves.
    const serving = await startGateway();
    try {
      const metrics = await httpGet(serving.adminUrl('/metrics'));
      assert.match(metrics.text, /^ocpp_starting 0$/m);
      assert.match(metrics.text, /^ocpp_ready 1$/m);
      assert.match(metrics.text, /^ocpp_kafka_queue_depth \d/m);
      await serving.stop();
    } finally {
      serving.kill();
    }
  });
});
