// ocpp-loadgen against a central system of the test's own (ocpp-rpc): a station whose
// BootNotification is answered with a CALLERROR boots again, as firmware does, and counts it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { RPCServer, createRPCError } from 'ocpp-rpc';
import { REPO_ROOT } from '../lib/paths.mjs';

const LOADGEN_BIN = process.env.OCPP_LOADGEN_BIN || join(REPO_ROOT, 'build', 'bin', 'ocpp-loadgen');

/** A central system refusing each station's first `refusals` BootNotifications with InternalError. */
async function refusingCentralSystem(refusals) {
  const boots = new Map();
  const heartbeats = new Map();
  const server = new RPCServer({ protocols: ['ocpp1.6', 'ocpp2.0.1'], strictMode: true });
  server.on('client', (client) => {
    client.handle('BootNotification', () => {
      const n = (boots.get(client.identity) ?? 0) + 1;
      boots.set(client.identity, n);
      if (n <= refusals) throw createRPCError('InternalError', 'not now');
      return { status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 };
    });
    client.handle('Heartbeat', () => {
      heartbeats.set(client.identity, (heartbeats.get(client.identity) ?? 0) + 1);
      return { currentTime: new Date().toISOString() };
    });
  });
  const http = await server.listen(0, '127.0.0.1');
  return { server, boots, heartbeats, url: `ws://127.0.0.1:${http.address().port}/ocpp` };
}

function runLoadgen(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(LOADGEN_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

const common = (url) => ['--url', url, '--stations', '2', '--mix', 'heartbeat', '--rate', '10',
  '--warmup', '0', '--duration', '1', '--json'];

test('ocpp-loadgen boots again after a BootNotification CALLERROR', async () => {
  const cs = await refusingCentralSystem(2);
  try {
    const run = await runLoadgen(common(cs.url));
    assert.equal(run.code, 0, run.err);
    const report = JSON.parse(run.out);
    assert.equal(report.boot.accepted, 2);
    assert.equal(report.boot.call_errors, 4);
    assert.deepEqual([...cs.boots.values()], [3, 3]);
    assert.ok(report.calls.call_results > 0, run.out);
  } finally {
    await cs.server.close({ force: true });
  }
});

test('ocpp-loadgen --boot-retries 0 gives up at the first refusal', async () => {
  const cs = await refusingCentralSystem(1);
  try {
    const run = await runLoadgen([...common(cs.url), '--boot-retries', '0']);
    assert.equal(run.code, 1, run.out);
    assert.match(run.err, /no station could connect and boot/);
    assert.deepEqual([...cs.boots.values()], [1, 1]);
  } finally {
    await cs.server.close({ force: true });
  }
});

test('ocpp-loadgen --processes splits stations and rate over processes and merges one report', async () => {
  const cs = await refusingCentralSystem(0);
  try {
    const run = await runLoadgen(['--url', cs.url, '--id-prefix', 'MP', '--stations', '7', '--processes', '3',
      '--mix', 'heartbeat', '--rate', '30', '--warmup', '0', '--duration', '2', '--json']);
    assert.equal(run.code, 0, run.err);
    const report = JSON.parse(run.out);
    assert.equal(report.processes, 3);
    assert.deepEqual(report.stations, { total: 7, 'ocpp1.6': 4, 'ocpp2.0.1': 3 });
    // Every station once, named as in a one-process run.
    assert.deepEqual([...cs.boots.keys()].sort(), ['MP000001', 'MP000002', 'MP000003', 'MP000004', 'MP000005', 'MP000006', 'MP000007']);
    assert.equal(report.boot.accepted, 7);
    // The three processes' shares add up to the asked rate, and every sample is in the merge.
    assert.equal(report.calls.sent, 60, run.out);
    assert.equal(report.calls.call_results, 60, run.out);
    assert.equal(report.latency_ms.samples, 60, run.out);
    const seen = [...cs.heartbeats.values()].reduce((a, b) => a + b, 0);
    assert.ok(seen >= 60, `central system saw ${seen} heartbeats`);
  } finally {
    await cs.server.close({ force: true });
  }
});

test('ocpp-loadgen --processes refuses more processes x threads than stations', async () => {
  const run = await runLoadgen(['--url', 'ws://127.0.0.1:9/ocpp', '--stations', '4', '--processes', '3', '--threads', '2']);
  assert.equal(run.code, 2);
  assert.match(run.err, /--processes 3 x --threads 2 is more than --stations 4/);
});

test('ocpp-loadgen with several --url splits the stations into one block per central system', async () => {
  const a = await refusingCentralSystem(0);
  const b = await refusingCentralSystem(0);
  try {
    const run = await runLoadgen(['--url', a.url, '--url', b.url, '--id-prefix', 'MU', '--stations', '6',
      '--processes', '2', '--mix', 'heartbeat', '--rate', '12', '--warmup', '0', '--duration', '1', '--json']);
    assert.equal(run.code, 0, run.err);
    assert.deepEqual(JSON.parse(run.out).urls, [a.url, b.url]);
    assert.deepEqual([...a.boots.keys()].sort(), ['MU000001', 'MU000002', 'MU000003']);
    assert.deepEqual([...b.boots.keys()].sort(), ['MU000004', 'MU000005', 'MU000006']);
  } finally {
    await a.server.close({ force: true });
    await b.server.close({ force: true });
  }
});
