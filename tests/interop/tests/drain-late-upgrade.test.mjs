// An upgrade still under way when SIGTERM's drain begins is refused (503 "draining"), not
// opened as a session the drain never closes.
//
// The gateway runs with librdkafka linger.ms=5000, so that a CALL stays in flight for five
// seconds and the drain lasts that long. A TCP connection sends half an upgrade request and
// is accepted (the gateway owns the socket, checked with `ss`); a station's Heartbeat is in
// flight; SIGTERM; once the listener refuses new connections the rest of the request is sent.
// It must be answered 503 while the drain waits for the Heartbeat, and the gateway must exit
// well before its drain timeout (20 s here), which a session opened meanwhile would hold it to.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { execFileSync } from 'node:child_process';

import { startGateway, uniqueStationId, withGatewayLog, httpGet } from '../lib/gateway.mjs';
import { bootedRawStation } from '../lib/raw-station.mjs';
import { metricValue } from '../lib/monitor.mjs';

const LINGER_MS = 5_000;
const DRAIN_TIMEOUT_S = 20;
// From SIGTERM: the held Heartbeat's linger and the router's goodbye, well below the drain
// timeout that a session opened meanwhile would hold the gateway to.
const EXIT_WITHIN_MS = 12_000;

const poll = async (what, check, withinMs = 10_000) => {
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (await check()) return;
    assert.ok(Date.now() < deadline, `${what} within ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

const opened = (port) => new Promise((resolve, reject) => {
  const socket = connect({ host: '127.0.0.1', port });
  socket.once('connect', () => resolve(socket));
  socket.once('error', reject);
});

describe('an upgrade under way when the drain begins', { timeout: 120_000 }, () => {
  let gw;
  let dir;
  let station;
  let late;
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ocpp-drain-late-'));
    const config = join(dir, 'gateway.yaml');
    writeFileSync(config, `drain_timeout_s: ${DRAIN_TIMEOUT_S}\n`);
    gw = await startGateway({ extraArgs: ['--config', config, '--kafka-property', `linger.ms=${LINGER_MS}`] });
  });

  after(async () => {
    station?.terminate();
    late?.destroy();
    if (gw?.running) gw.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('is refused with 503 and the gateway exits without waiting for its drain timeout', logOnFailure(async (t) => {
    station = await bootedRawStation(gw.wsUrl(uniqueStationId('ITDRAINL')), 'ocpp1.6',
      { timeoutMs: LINGER_MS + 10_000 });

    late = await opened(gw.port);
    let response = '';
    let ended = false;
    late.on('data', (chunk) => { response += chunk.toString('latin1'); });
    late.on('close', () => { ended = true; });
    late.on('error', () => {});
    late.write(`GET /ocpp/${uniqueStationId('ITDRAINL')} HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\n` +
      'Upgrade: websocket\r\nConnection: Upgrade\r\n');
    // Accepted: the gateway holds the socket (before accept() it is nobody's).
    const filter = `( sport = :${gw.port} and dport = :${late.localPort} )`;
    await poll('the half-sent upgrade accepted by the gateway', () =>
      execFileSync('ss', ['-Htnp', 'state', 'established', filter], { encoding: 'utf8' })
        .includes(`pid=${gw.child.pid},`));

    const beat = station.call('Heartbeat', {}, { timeoutMs: LINGER_MS + 10_000 });
    await poll('the Heartbeat in flight', async () =>
      metricValue((await httpGet(gw.adminUrl('/metrics'))).text, 'ocpp_calls_in_flight', null) === 1);

    const signalled = Date.now();
    gw.child.kill('SIGTERM');
    await poll('the listener closed', () => opened(gw.port).then((s) => { s.destroy(); return false; }, () => true));
    late.write('Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
      'Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n');
    // The whole answer: its body, or the connection's end.
    await poll('an answer to the late upgrade', () => ended || response.includes('draining'));
    t.diagnostic(response.split('\r\n')[0]);
    assert.match(response, /^HTTP\/1\.1 503 /, `the late upgrade's answer:\n${response}`);
    assert.match(response, /\r\nRetry-After: 1\r\n/i);
    assert.match(response, /draining/);

    const { reply } = await beat;
    assert.equal(reply.json?.[0], 3, `the Heartbeat in flight is answered: ${reply.text}`);
    const info = await Promise.race([
      gw.exited,
      new Promise((r) => { setTimeout(() => r(null), Math.max(0, signalled + EXIT_WITHIN_MS - Date.now())); }),
    ]);
    assert.ok(info, `the gateway still runs ${EXIT_WITHIN_MS} ms after SIGTERM (drain timeout ${DRAIN_TIMEOUT_S} s)`);
    assert.equal(info.code, 0, `exit code ${info.code}, signal ${info.signal}`);
    t.diagnostic(`exited ${Date.now() - signalled} ms after SIGTERM`);
    const text = gw.output();
    assert.doesNotMatch(text, /drain timeout/);
  }));
});
