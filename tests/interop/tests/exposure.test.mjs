// Listeners reachable from the network without authentication (README "Security": what the
// defaults protect): the real binary refuses to start, with one message naming the ways out,
// unless the configuration acknowledges it; the subcommands, which listen on nothing, are not
// held to it; and with an admin token, /metrics can be opened to scrapers while /v1 still asks
// for the token. (An acknowledged exposure itself is not started here: the tests bind loopback
// only. Its access rules are unit-tested on a loopback port, tests/unit/gateway/admin.)
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, httpGet, freePort, GATEWAY_BIN, KAFKA_BROKERS } from '../lib/gateway.mjs';
import { restGet } from '../lib/commands.mjs';

/** Runs the gateway binary to its exit; `env` adds to (and the harness's own setting leaves) the environment. */
function runGateway(args, env = {}) {
  const childEnv = { ...process.env, ...env };
  delete childEnv.OCPP_GATEWAY_BIN;
  return new Promise((resolve) => {
    execFile(GATEWAY_BIN, args, { env: childEnv, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? error.code : 0, signal: error?.signal ?? null, stdout, stderr }));
  });
}

// No broker answers here: a gateway that got past its configuration would wait for Kafka,
// not exit 2.
const NO_KAFKA = ['--kafka-brokers', '127.0.0.1:1'];

describe('listeners exposed without authentication', () => {
  test('stations on a non-loopback address with security profile 0: refused at start-up', async () => {
    const port = await freePort();
    for (const listen of [`0.0.0.0:${port}`, `[::]:${port}`]) {
      const run = await runGateway(['--listen', listen, ...NO_KAFKA]);
      assert.equal(run.code, 2, `--listen ${listen}: exit ${run.code} ${run.signal}\n${run.stderr}`);
      assert.match(run.stderr, new RegExp(`listen ${listen.replace(/[[\]]/g, '\\$&')} is not a loopback address`));
      assert.match(run.stderr, /security\.profile0_exposed: true/);
      assert.match(run.stderr, /--security-profile/);
    }
  });

  test('admin on a non-loopback address without a token: refused, from a flag or the environment', async () => {
    const port = await freePort();
    const fromFlag = await runGateway(['--admin-listen', `0.0.0.0:${port}`, ...NO_KAFKA]);
    assert.equal(fromFlag.code, 2, `exit ${fromFlag.code}\n${fromFlag.stderr}`);
    assert.match(fromFlag.stderr, new RegExp(`admin_listen 0\\.0\\.0\\.0:${port} is not a loopback address and admin\\.token is not set`));
    assert.match(fromFlag.stderr, /admin\.exposed_without_token: true/);
    const fromEnv = await runGateway(NO_KAFKA, { OCPP_GATEWAY_ADMIN_LISTEN: `[::]:${port}` });
    assert.equal(fromEnv.code, 2, `exit ${fromEnv.code}\n${fromEnv.stderr}`);
    assert.match(fromEnv.stderr, /admin\.token is not set/);
  });

  test('subcommands listen on nothing: the same configuration plans topics', async () => {
    const run = await runGateway(['topics', 'plan', '--listen', '0.0.0.0:9000', '--admin-listen', '0.0.0.0:9100',
      '--kafka-brokers', KAFKA_BROKERS]);
    assert.equal(run.code, 0, `topics plan: exit ${run.code}\n${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /\d+ of \d+ topics meet the contract/, 'the plan of the contract topics');
  });

  test('a token with admin.metrics_without_token: /metrics open, /v1 still behind the token', async () => {
    const token = 'exposure-test-token';
    const dir = mkdtempSync(join(tmpdir(), 'ocpp-exposure-'));
    const config = join(dir, 'gateway.yaml');
    writeFileSync(config, 'admin:\n  metrics_without_token: true\n');
    const gw = await startGateway({ env: { OCPP_GATEWAY_ADMIN_TOKEN: token }, extraArgs: ['--config', config] });
    try {
      const metrics = await httpGet(gw.adminUrl('/metrics'));
      assert.equal(metrics.status, 200, '/metrics without the token');
      assert.match(metrics.text, /^ocpp_listener_exposed_without_authentication\{listener="stations"\} 0$/m);
      assert.match(metrics.text, /^ocpp_listener_exposed_without_authentication\{listener="admin"\} 0$/m);
      assert.equal((await restGet(gw.adminPort, '/v1/stations')).status, 401, '/v1 without the token');
      assert.equal((await restGet(gw.adminPort, '/v1/stations', { token: 'wrong' })).status, 401, '/v1 with a wrong token');
      assert.equal((await restGet(gw.adminPort, '/v1/stations', { token })).status, 200, '/v1 with the token');
    } finally {
      await gw.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
