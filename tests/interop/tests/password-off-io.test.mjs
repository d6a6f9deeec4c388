// Security profile 1, one I/O thread: a password check the cache cannot answer (PBKDF2 with
// enough iterations for about 1.2 s of this machine's CPU, measured first) runs off the I/O
// thread, so a station already connected keeps being answered at its usual pace while a
// newcomer's upgrade waits for its check. The upgrade request arriving in pieces, or with the
// station's first frame right behind it, is read as before.
//
// The iterations are measured, not fixed: a fixed count was too quick on a fast day (2,000,000
// in 0.33 s, too short to tell a computed check from a cached one) and too slow on a busy one
// (6,000,000 past the 5 s the gateway gives an upgrade's head, TLS and check together).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startGateway, randomHex, withGatewayLog } from '../lib/gateway.mjs';
import { hashPassword, pbkdf2IterationsFor, writeRegistry, rawUpgrade, basic, SecureStation } from '../lib/security.mjs';

const PW = 'offload-Secret-1';

/** Writes an upgrade request in `pieces` parts (a pause between them) plus `after` bytes. */
function upgradeInPieces({ port, path, protocol, authorization, pieces, after = Buffer.alloc(0) }) {
  const request = Buffer.from([
    `GET ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    `Sec-WebSocket-Protocol: ${protocol}`,
    `Authorization: ${authorization}`,
  ].join('\r\n') + '\r\n\r\n', 'latin1');
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer; got ${got.toString('latin1')}`)); }, 15_000);
    const socket = netConnect({ host: '127.0.0.1', port }, async () => {
      const size = Math.ceil(request.length / pieces);
      for (let i = 0; i < pieces; i++) {
        socket.write(request.subarray(i * size, (i + 1) * size));
        // Separate segments, so that the gateway reads the head in several parts (shaping only).
        if (i + 1 < pieces) await new Promise((r) => setTimeout(r, 30));
      }
      if (after.length > 0) socket.write(after);
    });
    socket.on('error', reject);
    socket.on('data', (d) => {
      got = Buffer.concat([got, d]);
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = Number(got.subarray(0, end).toString('latin1').split(' ')[1]);
      const rest = got.subarray(end + 4);
      // With a first frame sent: wait for its answer (a server frame, unmasked, text).
      if (status === 101 && after.length > 0) {
        if (rest.length < 2 || rest.length < 2 + (rest[1] & 0x7f)) return;
        const text = rest.subarray(2, 2 + (rest[1] & 0x7f)).toString('utf8');
        clearTimeout(timer);
        socket.destroy();
        resolve({ status, reply: JSON.parse(text) });
        return;
      }
      clearTimeout(timer);
      socket.destroy();
      resolve({ status });
    });
  });
}

/** A masked client text frame (payload under 126 bytes). */
function clientFrame(text) {
  const payload = Buffer.from(text, 'utf8');
  assert.ok(payload.length < 126);
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}

describe('password checks run off the I/O thread', () => {
  let gw;
  let dir;
  const run = randomHex(3);
  const keeperId = `POK-${run}`;
  const slowId = `POS-${run}`;
  const pieceIds = [`POP1-${run}`, `POP2-${run}`];

  before(async () => {
    const slowIterations = pbkdf2IterationsFor(1200, { min: 1_000_000 });
    process.stderr.write(`# slow check: ${slowIterations} PBKDF2 iterations\n`);
    dir = mkdtempSync(join(tmpdir(), 'ocpp-password-off-io-'));
    const registry = writeRegistry(join(dir, 'stations.yaml'), [
      { id: keeperId, hash: hashPassword(PW) },
      { id: slowId, hash: hashPassword(PW, slowIterations) },
      ...pieceIds.map((id) => ({ id, hash: hashPassword(PW) })),
    ]);
    const config = join(dir, 'gateway.yaml');
    writeFileSync(config, 'io_threads: 1\n');
    gw = await startGateway({
      gatewayId: `it-pwoffio-${run}`,
      extraArgs: ['--config', config, '--security-profile', '1', '--stations-file', registry],
    });
  });

  after(async () => {
    await gw?.stop().catch((e) => process.stderr.write(`${e.message}\n`));
    if (dir && !gw?.failed) rmSync(dir, { recursive: true, force: true });
  });

  test('a connected station is answered while a slow check runs', withGatewayLog(() => gw, async () => {
    const keeper = new SecureStation({ endpoint: `ws://127.0.0.1:${gw.port}/ocpp`, identity: keeperId, protocol: 'ocpp2.0.1', password: PW });
    await keeper.connect();
    await keeper.call('BootNotification', { reason: 'PowerUp', chargingStation: { vendorName: 'Interop', model: 'OffIo' } });

    let upgradeDone = false;
    const started = Date.now();
    const upgrade = rawUpgrade({
      port: gw.port, path: `/ocpp/${slowId}`, protocols: ['ocpp2.0.1'], headers: { Authorization: basic(slowId, PW) }, timeoutMs: 60_000,
    }).then((r) => { upgradeDone = true; return { ...r, tookMs: Date.now() - started }; });

    // Heartbeats for as long as the upgrade waits (20 ms apart: within messages_per_second).
    const rtts = [];
    while (!upgradeDone) {
      const t0 = Date.now();
      await keeper.call('Heartbeat', {});
      if (!upgradeDone) rtts.push(Date.now() - t0);
      await new Promise((r) => setTimeout(r, 20));
    }
    const answer = await upgrade;
    assert.equal(answer.status, 101, `slow upgrade: ${answer.status} ${answer.body}`);
    // The check took long (so it was not served from a cache), and the keeper was answered
    // many times meanwhile, none of them held up for anything like the check's time.
    assert.ok(answer.tookMs >= 400, `the check took ${answer.tookMs} ms: expected a slow PBKDF2`);
    assert.ok(rtts.length >= 5, `heartbeats answered during the check: ${rtts.length}`);
    const slowest = Math.max(...rtts);
    assert.ok(slowest < answer.tookMs / 3, `slowest heartbeat ${slowest} ms during a ${answer.tookMs} ms check`);
    assert.deepEqual(keeper.strictFailures, []);
    await keeper.close();
  }));

  test('an upgrade request arriving in pieces, or with a frame behind it, is read whole', withGatewayLog(() => gw, async () => {
    const auth = (id) => basic(id, PW);
    const pieces = await upgradeInPieces({ port: gw.port, path: `/ocpp/${pieceIds[0]}`, protocol: 'ocpp2.0.1', authorization: auth(pieceIds[0]), pieces: 4 });
    assert.equal(pieces.status, 101);
    // The first CALL right behind the request, in the same write: answered once upgraded.
    const call = JSON.stringify([2, 'hb-1', 'Heartbeat', {}]);
    const behind = await upgradeInPieces({
      port: gw.port, path: `/ocpp/${pieceIds[1]}`, protocol: 'ocpp2.0.1', authorization: auth(pieceIds[1]), pieces: 1, after: clientFrame(call),
    });
    assert.equal(behind.status, 101);
    assert.equal(behind.reply[0], 3, `answer: ${JSON.stringify(behind.reply)}`);
    assert.equal(behind.reply[1], 'hb-1');
    // A wrong password still gets its 401, decided from the check run ahead.
    const wrong = await upgradeInPieces({ port: gw.port, path: `/ocpp/${pieceIds[0]}`, protocol: 'ocpp2.0.1', authorization: basic(pieceIds[0], 'nope'), pieces: 2 });
    assert.equal(wrong.status, 401);
  }));
});
