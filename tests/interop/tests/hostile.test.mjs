// Hostile clients against the security profiles: a catalogue of attacks over
// the wire (WebSocket framing, slow handshakes, path and identity tricks,
// subprotocols, HTTP Basic, TLS versions and client certificates, malformed
// OCPP-J, duplicate identities, brute force, admission limits), each with one
// exact expected outcome: HTTP status (+ reason body), close code, CALLERROR
// code, TLS alert, and the gateway-made security event it must raise.
//
// Four gateways run side by side:
//   p1  security profile 1 (HTTP Basic over ws://), short handshake timeout,
//       a small per-station message rate (20/s, bursts of 30)
//   p2  security profile 2 (TLS + Basic, RSA and ECDSA server certificates),
//       a station without Sec-WebSocket-Protocol is refused
//   p3  security profile 3 (TLS client certificates checked against the test CA)
//   p4  profile 1 with tiny admission limits (5 handshakes/s, 3 connections per address)
// On each, a charging station with correct credentials keeps charging the
// whole time; at the end every one of its calls must have been answered and
// be on Kafka exactly once, every expected security event must be on
// ocpp.security (schema-valid, right type / station / address), and every
// connection the gateway closed must have its Disconnected close code.
//
// Each refused case connects from its own loopback source address
// (127.0.0.x), so that the gateway's per-address failure throttle (20 per
// minute) counts each case on its own and the event's `address` is known.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import WebSocket from 'ws';

import { startGateway, randomHex, withGatewayLog } from '../lib/gateway.mjs';
import { TopicReader, TOPICS } from '../lib/kafka.mjs';
import { RawStation, maskedFrame, parseCallError, parseCallResult } from '../lib/raw-station.mjs';
import { assertSchema } from '../lib/schemas.mjs';
import { assertSessionEvents, versionOf } from '../lib/expect.mjs';
import { standardPki, asn1Time } from '../lib/pki.mjs';
import { hashPassword, writeRegistry, rawUpgrade, basic, AddressPool, ChargingStation } from '../lib/security.mjs';

const PW = 'hostile-Secret-1';           // password of every H-nnn registry station
const GOOD_PW = 'good-Station-pw';       // password of the CSnn stations (charging stations, CS03)
const WWW_AUTH = 'Basic realm="OCPP", charset="UTF-8"';
const HANDSHAKE_TIMEOUT_MS = 2_000;
const RATE = 20;                         // p1: security.messages_per_second
const BURST = 30;                        // p1: security.message_burst
const MB10 = 10 * 1024 * 1024;

// ---------------------------------------------------------------------------
// small helpers

/** A WebSocket opened with extra ws options (TLS material, localAddress), wrapped as a RawStation. */
async function openRaw(url, protocols, wsOpts = {}) {
  const ws = new WebSocket(url, protocols, { handshakeTimeout: 10_000, perMessageDeflate: false, ...wsOpts });
  const station = new RawStation(ws);
  await new Promise((resolve, reject) => {
    const done = (fn, v) => { ws.off('open', onOpen); ws.off('error', onError); ws.off('unexpected-response', onRes); fn(v); };
    const onOpen = () => done(resolve);
    const onError = (err) => done(reject, err);
    const onRes = (req, res) => { ws.terminate(); done(reject, new Error(`handshake refused: HTTP ${res.statusCode}`)); };
    ws.on('open', onOpen);
    ws.on('error', onError);
    ws.on('unexpected-response', onRes);
  });
  return station;
}

/** Server frames in `buf` (unmasked): [{op, payload}]; a close frame's code is payload[0..1]. */
function serverFrames(buf) {
  const out = [];
  let o = 0;
  while (o + 2 <= buf.length) {
    const op = buf[o] & 0x0f;
    let len = buf[o + 1] & 0x7f;
    let h = 2;
    if (len === 126) { if (o + 4 > buf.length) break; len = buf.readUInt16BE(o + 2); h = 4; }
    else if (len === 127) { if (o + 10 > buf.length) break; len = Number(buf.readBigUInt64BE(o + 2)); h = 10; }
    if (o + h + len > buf.length) break;
    out.push({ op, payload: buf.subarray(o + h, o + h + len) });
    o += h + len;
  }
  return out;
}

/** HTTP refusal as a comparable outcome. */
function httpOutcome(r) {
  if (r.status == null) return { noHttp: true, ...(r.tlsError ? { tlsAlert: r.tlsError } : {}), ...(r.closed ? { closed: true } : {}), ...(r.timedOut ? { timedOut: true } : {}) };
  const o = { http: r.status };
  if (r.status !== 101) o.body = (r.body ?? '').trim();
  if (r.status === 101) o.subprotocol = r.headers['sec-websocket-protocol'] ?? null;
  if (r.headers['www-authenticate'] !== undefined) o.wwwAuthenticate = r.headers['www-authenticate'];
  if (r.headers['retry-after'] !== undefined) o.retryAfter = r.headers['retry-after'];
  return o;
}

/** Writes `buf` in 64 KiB chunks honouring backpressure; stops at the first error / close. Resolves bytes written. */
async function writeAll(socket, buf) {
  let written = 0;
  for (let o = 0; o < buf.length && !socket.destroyed; o += 65_536) {
    const chunk = buf.subarray(o, o + 65_536);
    const ok = socket.write(chunk, () => {});
    written += chunk.length;
    if (!ok) {
      await new Promise((res) => {
        const done = () => { socket.off('drain', done); socket.off('close', done); socket.off('error', done); res(); };
        socket.on('drain', done); socket.on('close', done); socket.on('error', done);
      });
    }
  }
  return written;
}

/** Waits (bounded) for `socket` to close; resolves {bytes, error, ms}. */
function collectUntilClosed(socket, timeoutMs = 10_000) {
  const start = Date.now();
  let bytes = Buffer.alloc(0);
  let error = null;
  socket.on('data', (d) => { bytes = Buffer.concat([bytes, d]); });
  socket.on('error', (e) => { error = e.code ?? e.message; });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { socket.destroy(); reject(new Error(`connection not closed within ${timeoutMs} ms`)); }, timeoutMs);
    socket.on('close', () => { clearTimeout(t); resolve({ bytes, error, ms: Date.now() - start }); });
  });
}

/** The close outcome of a raw connection: the close frame's code, or 'reset' when none arrived. */
function wireClose(bytes) {
  const frames = serverFrames(bytes);
  const close = frames.find((f) => f.op === 0x8);
  return { code: close ? close.payload.readUInt16BE(0) : 'reset', otherFrames: frames.filter((f) => f.op !== 0x8).length };
}

// ---------------------------------------------------------------------------

describe('hostile clients against security profiles 1, 2 and 3', () => {
  const gws = {};           // p1..p4 -> Gateway
  const good = {};          // p1..p4 -> ChargingStation
  const goodAtStart = {};
  const certs = {};
  let pki;
  let caPem;
  let reader;
  let from;
  const addrs = new AddressPool(10);
  let nextId = 1;
  // Registry identities H001-<run> … H150-<run>: the gateways share Kafka and
  // form one cluster (a newer connection of an identity anywhere replaces the
  // older one), so no two cases, gateways or concurrent runs share one.
  const RUN = randomHex(3);
  const takeId = () => `H${String(nextId++).padStart(3, '0')}-${RUN}`;
  const expectedEvents = [];     // {gw, type, stationId, address, detail?, count?, case}
  const expectedDisconnects = []; // {gw, stationId, closeCode, case}
  const expectedDeadLetters = []; // {gw, stationId, messageId, errorCode, case}
  const ran = new Set();
  const observations = {};      // measured values later tests look at
  const logOnFailure = (key, fn) => withGatewayLog(() => gws[key], fn);

  const port = (key) => gws[key].port;
  const tlsFor = (key, cert) => {
    if (key !== 'p2' && key !== 'p3') return null;
    const o = { ca: caPem, servername: 'localhost' };
    if (cert) { o.cert = readFileSync(cert.cert); o.key = readFileSync(cert.key); }
    return o;
  };
  const upgrade = (key, { path, id, user, password, authorization, protocols = ['ocpp1.6'], addr, cert, tls, headers = {}, rawHeaderLines, timeoutMs } = {}) => {
    const h = { ...headers };
    if (authorization !== undefined) h.Authorization = authorization;
    else if (password !== undefined) h.Authorization = basic(user ?? id, password);
    return rawUpgrade({ port: port(key), path: path ?? `/ocpp/${id}`, protocols, headers: h, rawHeaderLines, localAddress: addr,
      tls: tls === undefined ? tlsFor(key, cert) : tls, timeoutMs });
  };
  /** An authenticated raw WebSocket station on p1 (or p4). */
  const openAuthed = (key, id, { addr, protocols = ['ocpp1.6'], password = PW } = {}) =>
    openRaw(`ws://${encodeURIComponent(id)}:${encodeURIComponent(password)}@127.0.0.1:${port(key)}/ocpp/${id}`, protocols, addr ? { localAddress: addr } : {});

  const stillServed = async (key) => {
    for (const k of Object.keys(gws)) assert.ok(gws[k].running, `gateway ${k} exited: ${JSON.stringify(gws[k].exitInfo)}`);
    await good[key].progress(1, 10_000);
  };

  before(async () => {
    const t0 = Date.now();
    const std = standardPki();
    pki = std.pki;
    caPem = readFileSync(std.ca.cert);
    certs.ca = std.ca;
    certs.serverRsa = std.serverRsa;
    certs.serverEc = std.serverEc;
    certs.cs01 = pki.leaf('cs01', 'CS01', { issuer: std.ca });
    certs.cs02 = pki.leaf('cs02', 'CS02', { issuer: std.ca });
    certs.wrongCn = pki.leaf('wrong-cn', 'NOT-THE-STATION', { issuer: std.ca });
    certs.unregistered = pki.leaf('unregistered', 'NOPE-P3', { issuer: std.ca });
    certs.expired = pki.leafWithDates('expired', 'CS01', { issuer: std.ca, startDate: asn1Time(-400), endDate: asn1Time(-30) });
    certs.notYetValid = pki.leafWithDates('not-yet-valid', 'CS01', { issuer: std.ca, startDate: asn1Time(30), endDate: asn1Time(400) });
    certs.rsa1024 = pki.leaf('rsa1024', 'CS01', { issuer: std.ca, keySpec: { rsa: 1024 } });
    const rogue = pki.ca('rogue-ca', 'Unknown CA');
    certs.unknownCa = pki.leaf('unknown-ca-cs01', 'CS01', { issuer: rogue });
    certs.selfSigned = pki.selfSigned('self-signed', 'CS01');

    const hash = hashPassword(PW);
    const goodHash = hashPassword(GOOD_PW);
    const registry = writeRegistry(pki.path('stations.yaml'), [
      { id: 'CS01', hash: goodHash },
      { id: 'CS02' },                                   // registered without a password
      { id: 'DISABLED1', hash, enabled: false },
      { id: 'CS03', hash: goodHash },
      { id: 'CS11', hash: goodHash },
      { id: 'CS12', hash: goodHash },
      { id: 'CS14', hash: goodHash },
      ...Array.from({ length: 150 }, (_, i) => ({ id: `H${String(i + 1).padStart(3, '0')}-${RUN}`, hash })),
    ]);
    const cfg = (name, text) => { writeFileSync(pki.path(name), text); return pki.path(name); };
    const base = `limits:\n  handshake_timeout_ms: ${HANDSHAKE_TIMEOUT_MS}\n`;
    const p1cfg = cfg('p1.yaml', `${base}security:\n  messages_per_second: ${RATE}\n  message_burst: ${BURST}\n`);
    const tlsArgs = ['--tls-cert', certs.serverRsa.cert, '--tls-key', certs.serverRsa.key, '--tls-cert', certs.serverEc.cert, '--tls-key', certs.serverEc.key];
    const common = ['--stations-file', registry];
    const tag = randomHex(3);
    const started = await Promise.allSettled([
      startGateway({ gatewayId: `it-hostile-p1-${tag}`, extraArgs: ['--config', p1cfg, '--security-profile', '1', ...common] }),
      startGateway({ gatewayId: `it-hostile-p2-${tag}`, extraArgs: ['--config', cfg('p2.yaml', base), '--security-profile', '2', '--missing-subprotocol', 'refuse', ...common, ...tlsArgs] }),
      startGateway({ gatewayId: `it-hostile-p3-${tag}`, extraArgs: ['--config', cfg('p3.yaml', base), '--security-profile', '3', ...common, ...tlsArgs, '--tls-ca', certs.ca.cert] }),
      startGateway({ gatewayId: `it-hostile-p4-${tag}`, extraArgs: ['--config', cfg('p4.yaml', `${base}security:\n  handshakes_per_second: 5\n  connections_per_address: 3\n`), '--security-profile', '1', ...common] }),
    ]);
    ['p1', 'p2', 'p3', 'p4'].forEach((k, i) => { if (started[i].status === 'fulfilled') gws[k] = started[i].value; });
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;

    reader = await new TopicReader().connect();
    from = await reader.snapshot([TOPICS.transactions, TOPICS.meterValues, TOPICS.heartbeats, TOPICS.status,
      TOPICS.security, TOPICS.connections, TOPICS.deadLetter]);

    good.p1 = new ChargingStation({ endpoint: `ws://127.0.0.1:${port('p1')}/ocpp`, identity: 'CS11', protocol: 'ocpp1.6', password: GOOD_PW });
    good.p2 = new ChargingStation({ endpoint: `wss://127.0.0.1:${port('p2')}/ocpp`, identity: 'CS12', protocol: 'ocpp2.0.1', password: GOOD_PW, wsOpts: { ca: caPem } });
    good.p3 = new ChargingStation({ endpoint: `wss://127.0.0.1:${port('p3')}/ocpp`, identity: 'CS01', protocol: 'ocpp1.6',
      wsOpts: { ca: caPem, cert: readFileSync(certs.cs01.cert), key: readFileSync(certs.cs01.key) } });
    good.p4 = new ChargingStation({ endpoint: `ws://127.0.0.1:${port('p4')}/ocpp`, identity: 'CS14', protocol: 'ocpp2.0.1', password: GOOD_PW });
    for (const s of Object.values(good)) await s.start();
    for (const [k, s] of Object.entries(good)) {
      await s.progress(2, 10_000).catch((err) => { throw new Error(`${k}: ${err.message}`); });
      goodAtStart[k] = s.answered;
    }
    process.stderr.write(`# hostile: PKI, 4 gateways and 4 charging stations ready in ${Date.now() - t0} ms\n`);
  });

  after(async () => {
    try {
      for (const s of Object.values(good)) await s.stop().catch(() => {});
      for (const gw of Object.values(gws)) await gw.stop().catch((e) => process.stderr.write(`${e.message}\n`));
    } finally {
      await reader?.close();
      if (!Object.values(gws).some((g) => g.failed)) pki?.remove();
    }
  });

  // -------------------------------------------------------------------------
  // The catalogue. Each case: gateway, what it does, the exact expected
  // outcome (compared with deepEqual to what `run` observed), and the
  // security events it must raise (checked on Kafka at the end).

  const keepOpen = async (key, id, password = PW, addr) => {
    const r = await rawUpgrade({ port: port(key), path: `/ocpp/${id}`, protocols: ['ocpp1.6'], headers: { Authorization: basic(id, password) }, localAddress: addr, keepOpen: true, tls: tlsFor(key) });
    assert.equal(r.status, 101, `upgrade of ${id}: ${JSON.stringify(httpOutcome(r))}`);
    return r.socket;
  };

  const CASES = [
    // --- WebSocket framing (p1, authenticated stations) ---
    {
      name: 'text frame that is not valid UTF-8', gw: 'p1', expect: { close: 1007 },
      async run(k) {
        const raw = await openAuthed('p1', k.id);
        await raw.sendText(Buffer.from([0x5b, 0x32, 0x2c, 0x22, 0xff, 0xfe, 0x22, 0x5d])).catch(() => {});
        const info = await raw.waitClose(10_000);
        assert.deepEqual(raw.inbox.map((m) => m.text), [], 'nothing is answered before the close');
        expectedDisconnects.push({ gw: 'p1', stationId: k.id, closeCode: 1007, case: k.name });
        return { close: info.code };
      },
    },
    {
      name: 'unmasked client frame', gw: 'p1', expect: { close: 1002 },
      async run(k) {
        const raw = await openAuthed('p1', k.id);
        const payload = Buffer.from('[2,"unmasked","Heartbeat",{}]');
        raw.ws._socket.write(Buffer.concat([Buffer.from([0x81, payload.length]), payload]));
        const info = await raw.waitClose(10_000);
        assert.deepEqual(raw.inbox.map((m) => m.text), [], 'the unmasked CALL is not answered');
        expectedDisconnects.push({ gw: 'p1', stationId: k.id, closeCode: 1002, case: k.name });
        return { close: info.code };
      },
    },
    {
      name: 'ping with a 200-byte payload (control frames are at most 125)', gw: 'p1', expect: { close: 1002 },
      async run(k) {
        const raw = await openAuthed('p1', k.id);
        raw.ws._socket.write(maskedFrame(0x9, Buffer.alloc(200, 0x70)));
        const info = await raw.waitClose(10_000);
        expectedDisconnects.push({ gw: 'p1', stationId: k.id, closeCode: 1002, case: k.name });
        return { close: info.code };
      },
    },
    {
      name: '10 MB text frame announced (header and first KB), judged on its header', gw: 'p1', expect: { close: 1009, otherFrames: 0 },
      async run(k) {
        const socket = await keepOpen('p1', k.id);
        const done = collectUntilClosed(socket);
        const frame = maskedFrame(0x1, Buffer.alloc(MB10, 0x61));
        socket.write(frame.subarray(0, 14 + 1024));
        const { bytes } = await done;
        expectedDisconnects.push({ gw: 'p1', stationId: k.id, closeCode: 1009, case: k.name });
        const w = wireClose(bytes);
        return { close: w.code, otherFrames: w.otherFrames };
      },
    },
    {
      // The gateway closes while the client is still writing; its close frame
      // may then be lost to the TCP reset (see report), so the wire shows 1009
      // or a reset, and the gateway's own account (Disconnected) must say 1009.
      name: '10 MB text frame sent in full', gw: 'p1', expect: { close: '1009 or reset', otherFrames: 0 },
      async run(k) {
        const socket = await keepOpen('p1', k.id);
        const done = collectUntilClosed(socket);
        await writeAll(socket, maskedFrame(0x1, Buffer.alloc(MB10, 0x61)));
        const { bytes } = await done;
        expectedDisconnects.push({ gw: 'p1', stationId: k.id, closeCode: 1009, case: k.name });
        const w = wireClose(bytes);
        return { close: w.code === 1009 || w.code === 'reset' ? '1009 or reset' : w.code, otherFrames: w.otherFrames };
      },
    },
    {
      name: '10 MB text message in 10,000 fragments', gw: 'p1', expect: { close: '1009 or reset', otherFrames: 0 },
      async run(k) {
        const socket = await keepOpen('p1', k.id);
        const done = collectUntilClosed(socket);
        const parts = [];
        const chunk = Buffer.alloc(Math.ceil(MB10 / 10_000), 0x61);
        for (let i = 0; i < 10_000; i++) {
          const f = maskedFrame(i === 0 ? 0x1 : 0x0, chunk);
          f[0] = (i === 9_999 ? 0x80 : 0x00) | (i === 0 ? 0x1 : 0x0);
          parts.push(f);
        }
        const all = Buffer.concat(parts);
        assert.ok(10_000 * chunk.length >= MB10, 'at least 10 MB of payload');
        await writeAll(socket, all);
        const { bytes } = await done;
        expectedDisconnects.push({ gw: 'p1', stationId: k.id, closeCode: 1009, case: k.name });
        const w = wireClose(bytes);
        return { close: w.code === 1009 || w.code === 'reset' ? '1009 or reset' : w.code, otherFrames: w.otherFrames };
      },
    },
    {
      name: `slowloris: handshake headers trickled for longer than handshake_timeout_ms ${HANDSHAKE_TIMEOUT_MS}`, gw: 'p1',
      expect: { closedByGateway: true, httpResponse: '', withinTimeout: true },
      async run(k) {
        const socket = netConnect({ host: '127.0.0.1', port: port('p1'), localAddress: k.addr });
        const done = collectUntilClosed(socket, HANDSHAKE_TIMEOUT_MS + 8_000);
        const request = `GET /ocpp/${k.id} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${Buffer.alloc(16, 1).toString('base64')}\r\nAuthorization: ${basic(k.id, PW)}\r\n`;
        // One byte every 200 ms: the slowness is the attack (load shaping, not synchronisation).
        let i = 0;
        const iv = setInterval(() => { if (i < request.length && !socket.destroyed) socket.write(request[i++]); }, 200);
        try {
          const { bytes, ms } = await done;
          return { closedByGateway: i < request.length, httpResponse: bytes.toString('latin1'), withinTimeout: ms >= HANDSHAKE_TIMEOUT_MS - 300 && ms < HANDSHAKE_TIMEOUT_MS + 5_000 };
        } finally {
          clearInterval(iv);
        }
      },
    },
    {
      // Bounded by the fixed TLS handshake limit (5 s, README "Security"), not by
      // handshake_timeout_ms, which starts once TLS is up.
      name: 'TLS slowloris: TCP connection that never sends a ClientHello', gw: 'p2',
      expect: { closedByGateway: true, bytesFromGateway: 0, within8s: true },
      async run(k) {
        const socket = netConnect({ host: '127.0.0.1', port: port('p2'), localAddress: k.addr });
        const { bytes, ms } = await collectUntilClosed(socket, 12_000);
        observations.tlsHandshakeMs = ms;
        return { closedByGateway: true, bytesFromGateway: bytes.length, within8s: ms < 8_000 };
      },
    },
    {
      name: `slowloris over TLS: handshake headers trickled after the TLS handshake (handshake_timeout_ms ${HANDSHAKE_TIMEOUT_MS})`, gw: 'p2',
      expect: { closedByGateway: true, httpResponse: '', withinTimeout: true },
      async run(k) {
        const socket = tlsConnect({ host: '127.0.0.1', port: port('p2'), localAddress: k.addr, ca: caPem, servername: 'localhost' });
        await new Promise((res, rej) => { socket.once('secureConnect', res); socket.once('error', rej); });
        const done = collectUntilClosed(socket, HANDSHAKE_TIMEOUT_MS + 8_000);
        const request = `GET /ocpp/${k.id} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${Buffer.alloc(16, 2).toString('base64')}\r\nAuthorization: ${basic(k.id, PW)}\r\n`;
        // One byte every 200 ms: the slowness is the attack (load shaping, not synchronisation).
        let i = 0;
        const t0 = Date.now();
        const iv = setInterval(() => { if (i < request.length && !socket.destroyed) socket.write(request[i++]); }, 200);
        try {
          const { bytes } = await done;
          const ms = Date.now() - t0;
          return { closedByGateway: i < request.length, httpResponse: bytes.toString('latin1'), withinTimeout: ms >= HANDSHAKE_TIMEOUT_MS - 500 && ms < HANDSHAKE_TIMEOUT_MS + 5_000 };
        } finally {
          clearInterval(iv);
        }
      },
    },

    // --- subprotocols ---
    {
      name: 'no Sec-WebSocket-Protocol (p1 default: OCPP 1.6)', gw: 'p1', expect: { http: 101, subprotocol: null },
      run: async (k) => httpOutcome(await upgrade('p1', { id: k.id, password: PW, protocols: null, addr: k.addr })),
    },
    {
      name: 'no Sec-WebSocket-Protocol (p2: --missing-subprotocol refuse)', gw: 'p2', expect: { http: 400, body: 'no_subprotocol' },
      run: async (k) => httpOutcome(await upgrade('p2', { id: k.id, password: PW, protocols: null, addr: k.addr })),
    },
    {
      name: 'duplicated subprotocol "ocpp1.6, ocpp1.6"', gw: 'p1', expect: { http: 101, subprotocol: 'ocpp1.6' },
      run: async (k) => httpOutcome(await upgrade('p1', { id: k.id, password: PW, protocols: ['ocpp1.6', 'ocpp1.6'], addr: k.addr })),
    },
    {
      name: 'two Sec-WebSocket-Protocol header lines (ocpp2.0.1, then ocpp1.6)', gw: 'p1', expect: { http: 101, subprotocol: 'ocpp2.0.1' },
      run: async (k) => httpOutcome(await upgrade('p1', { id: k.id, password: PW, protocols: null, addr: k.addr,
        rawHeaderLines: ['Sec-WebSocket-Protocol: ocpp2.0.1', 'Sec-WebSocket-Protocol: ocpp1.6'] })),
    },
    {
      name: 'unknown subprotocol only (ocpp9.9)', gw: 'p1', expect: { http: 400, body: 'unsupported_subprotocol' },
      run: async (k) => httpOutcome(await upgrade('p1', { id: k.id, password: PW, protocols: ['ocpp9.9'], addr: k.addr })),
    },

    // --- identities in the URL (refused before any credential check: no event) ---
    ...[
      ['/ocpp/../admin', 404, 'unknown_path'],
      ['/ocpp/%2F', 400, 'bad_identity'],
      ['/ocpp/%00', 400, 'bad_identity'],
      ['/ocpp/%252F', 400, 'bad_identity'],
      [`/ocpp/${'A'.repeat(49)}`, 400, 'bad_identity'],
      ['/ocpp/CS:01', 400, 'bad_identity'],
      ['/ocpp/%C3%A9t%C3%A9', 400, 'bad_identity'],
      ['/ocpp/\u00e9t\u00e9', 400, 'bad_identity'],
      ['/ocpp/', 404, 'unknown_path'],
      ['/ocpp/..', 400, 'bad_identity'],
    ].map(([path, status, body]) => ({
      name: `identity path ${JSON.stringify(path.length > 30 ? `${path.slice(0, 14)}…(${path.length - 6} chars)` : path)}`,
      gw: 'p1', expect: { http: status, body },
      run: async (k) => httpOutcome(await rawUpgrade({ port: port('p1'), path: Buffer.from(path, 'utf8').toString('latin1'), localAddress: k.addr,
        headers: { Authorization: basic('CS01', GOOD_PW) } })),
    })),

    // --- HTTP Basic (profile 1) ---
    {
      name: 'identity not in the registry', gw: 'p1', expect: { http: 404, body: 'unknown_station' },
      events: (k) => [{ type: 'UnknownStation', stationId: `NOPE${k.id}`, detail: /not in the station registry/ }],
      run: async (k) => httpOutcome(await upgrade('p1', { id: `NOPE${k.id}`, password: PW, addr: k.addr })),
    },
    {
      name: 'identity disabled in the registry', gw: 'p1', expect: { http: 404, body: 'unknown_station' },
      events: () => [{ type: 'UnknownStation', stationId: 'DISABLED1', detail: /disabled/ }],
      run: async (k) => httpOutcome(await upgrade('p1', { id: 'DISABLED1', password: PW, addr: k.addr })),
    },
    {
      name: 'Basic user differs from the URL identity', gw: 'p1', expect: { http: 401, body: 'unauthorized', wwwAuthenticate: WWW_AUTH },
      events: (k) => [{ type: 'AuthFailed', stationId: k.id, detail: /user differs/ }],
      run: async (k) => httpOutcome(await upgrade('p1', { id: k.id, user: `H150-${RUN}`, password: PW, addr: k.addr })),
    },
    {
      name: 'wrong password', gw: 'p1', expect: { http: 401, body: 'unauthorized', wwwAuthenticate: WWW_AUTH },
      events: (k) => [{ type: 'AuthFailed', stationId: k.id, detail: /^wrong password$/ }],
      run: async (k) => httpOutcome(await upgrade('p1', { id: k.id, password: `${PW}x`, addr: k.addr })),
    },
    {
      name: 'no Authorization header', gw: 'p1', expect: { http: 401, body: 'unauthorized', wwwAuthenticate: WWW_AUTH },
      events: (k) => [{ type: 'AuthFailed', stationId: k.id, detail: /no Authorization header/ }],
      run: async (k) => httpOutcome(await upgrade('p1', { id: k.id, addr: k.addr })),
    },
    {
      name: 'Basic credentials that are not base64', gw: 'p1', expect: { http: 401, body: 'unauthorized', wwwAuthenticate: WWW_AUTH },
      events: (k) => [{ type: 'AuthFailed', stationId: k.id, detail: /not valid base64/ }],
      run: async (k) => httpOutcome(await upgrade('p1', { id: k.id, authorization: 'Basic %%%not-base64%%%', addr: k.addr })),
    },
    {
      name: 'Authorization: Bearer instead of Basic', gw: 'p1', expect: { http: 401, body: 'unauthorized', wwwAuthenticate: WWW_AUTH },
      events: (k) => [{ type: 'AuthFailed', stationId: k.id, detail: /not HTTP Basic/ }],
      run: async (k) => httpOutcome(await upgrade('p1', { id: k.id, authorization: `Bearer ${Buffer.from(PW).toString('base64')}`, addr: k.addr })),
    },
    {
      name: 'registered station without a password (CS02) on profile 1', gw: 'p1', expect: { http: 401, body: 'unauthorized', wwwAuthenticate: WWW_AUTH },
      events: () => [{ type: 'AuthFailed', stationId: 'CS02', detail: /wrong password/ }],
      run: async (k) => httpOutcome(await upgrade('p1', { id: 'CS02', password: PW, addr: k.addr })),
    },
    {
      name: 'OCPP 1.6 password sent as the hex of its bytes (accepted)', gw: 'p1', expect: { http: 101, subprotocol: 'ocpp1.6' },
      run: async (k) => httpOutcome(await upgrade('p1', { id: k.id, password: Buffer.from(PW).toString('hex').toUpperCase(), addr: k.addr })),
    },
    {
      name: 'OCPP 2.0.1 password sent as hex (no hex rule for 2.0.1)', gw: 'p1', expect: { http: 401, body: 'unauthorized', wwwAuthenticate: WWW_AUTH },
      events: (k) => [{ type: 'AuthFailed', stationId: k.id, detail: /wrong password/ }],
      run: async (k) => httpOutcome(await upgrade('p1', { id: k.id, password: Buffer.from(PW).toString('hex'), protocols: ['ocpp2.0.1'], addr: k.addr })),
    },

    // --- TLS (profile 2) ---
    {
      name: 'profile-2 station speaking ws:// to the TLS port', gw: 'p2', expect: { noHttp: true, closed: true },
      run: async (k) => {
        const r = await upgrade('p2', { id: k.id, password: PW, addr: k.addr, tls: null });
        assert.ok(!(r.bytes ?? Buffer.alloc(0)).toString('latin1').startsWith('HTTP/'), 'no HTTP answer on the TLS port');
        return httpOutcome(r);
      },
    },
    {
      name: 'wrong password over TLS', gw: 'p2', expect: { http: 401, body: 'unauthorized', wwwAuthenticate: WWW_AUTH },
      events: (k) => [{ type: 'AuthFailed', stationId: k.id, detail: /wrong password/ }],
      run: async (k) => httpOutcome(await upgrade('p2', { id: k.id, password: 'nope', protocols: ['ocpp2.0.1'], addr: k.addr })),
    },
    ...[['TLSv1', 'TLS 1.0'], ['TLSv1.1', 'TLS 1.1']].map(([v, label]) => ({
      name: `${label} ClientHello`, gw: 'p2', expect: { noHttp: true, tlsAlert: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' },
      // SECLEVEL=0: OpenSSL 3 clients refuse TLS < 1.2 at the default level; the
      // alert number 70 (protocol_version) comes from the gateway.
      run: async (k) => httpOutcome(await upgrade('p2', { id: k.id, password: PW, addr: k.addr,
        tls: { ca: caPem, servername: 'localhost', minVersion: v, maxVersion: v, ciphers: 'DEFAULT@SECLEVEL=0' } })),
    })),

    // --- TLS client certificates (profile 3) ---
    ...[
      ['client certificate from an unknown CA', 'unknownCa', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', /unable to get local issuer certificate/],
      ['self-signed client certificate', 'selfSigned', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', /self-signed certificate/],
      ['expired client certificate', 'expired', 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED', /certificate has expired/],
      ['client certificate not yet valid', 'notYetValid', 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', /not yet valid/],
      ['client certificate with an RSA-1024 key', 'rsa1024', 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', /key too weak|RSA key of 1024 bits/],
    ].map(([name, cert, alert, detail]) => ({
      name, gw: 'p3', expect: { noHttp: true, tlsAlert: alert },
      // Refused inside the TLS handshake: no identity was read, the event is keyed by the address.
      events: () => [{ type: 'CertificateRejected', stationId: null, detail }],
      run: async (k) => httpOutcome(await upgrade('p3', { id: 'CS01', addr: k.addr, cert: certs[cert] })),
    })),
    {
      name: 'no client certificate (TLS 1.3)', gw: 'p3', expect: { noHttp: true, tlsAlert: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' },
      run: async (k) => httpOutcome(await upgrade('p3', { id: 'CS01', addr: k.addr })),
    },
    {
      name: 'no client certificate (TLS 1.2)', gw: 'p3', expect: { noHttp: true, tlsAlert: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' },
      run: async (k) => httpOutcome(await upgrade('p3', { id: 'CS01', addr: k.addr, tls: { ca: caPem, servername: 'localhost', maxVersion: 'TLSv1.2' } })),
    },
    {
      name: 'client certificate whose CN is not the identity', gw: 'p3', expect: { http: 401, body: 'certificate_mismatch', wwwAuthenticate: WWW_AUTH },
      events: (k) => [{ type: 'CertificateRejected', stationId: k.id, detail: /CN "NOT-THE-STATION" is not the station identity/ }],
      run: async (k) => httpOutcome(await upgrade('p3', { id: k.id, addr: k.addr, cert: certs.wrongCn })),
    },
    {
      name: "station CS02's certificate used for identity CS01 (connected meanwhile)", gw: 'p3', expect: { http: 401, body: 'certificate_mismatch', wwwAuthenticate: WWW_AUTH },
      events: () => [{ type: 'CertificateRejected', stationId: 'CS01', detail: /CN "CS02" is not the station identity/ }],
      run: async (k) => httpOutcome(await upgrade('p3', { id: 'CS01', addr: k.addr, cert: certs.cs02 })),
    },
    {
      name: 'valid certificate, identity not in the registry', gw: 'p3', expect: { http: 404, body: 'unknown_station' },
      events: () => [{ type: 'UnknownStation', stationId: 'NOPE-P3' }],
      run: async (k) => httpOutcome(await upgrade('p3', { id: 'NOPE-P3', addr: k.addr, cert: certs.unregistered })),
    },

    // --- OCPP-J frames (p1, 1.6) ---
    ...[
      ['JSON object instead of an array', '{"messageTypeId":2}', '-1', 'FormationViolation'],
      ['[2]', '[2]', '-1', 'FormationViolation'],
      ['message type 9', '[9,"type9-id","Heartbeat",{}]', 'type9-id', 'ProtocolError'],
      ['message id of 37 characters', `[2,"${'7'.repeat(37)}","Heartbeat",{}]`, '-1', 'FormationViolation'],
      ['100,000 levels of nesting in the payload', `[2,"deep-id","DataTransfer",{"vendorId":"x","data":${'['.repeat(100_000)}${']'.repeat(100_000)}}]`, 'deep-id', 'FormationViolation'],
      ['number 1e400', '[2,"big-id","StartTransaction",{"connectorId":1,"idTag":"T1","meterStart":1e400,"timestamp":"2024-01-01T00:00:00Z"}]', 'big-id', 'FormationViolation'],
      ['lone surrogate escape \\ud800 in a string', '[2,"sur-id","Authorize",{"idTag":"\\ud800"}]', 'sur-id', 'FormationViolation'],
    ].map(([name, text, id, code]) => ({
      name: `frame: ${name}`, gw: 'p1', expect: { callError: [id, code], thenServed: true },
      async run(k) {
        const raw = await openAuthed('p1', k.id);
        try {
          await raw.sendText(text);
          const err = parseCallError(await raw.next(10_000, name));
          const { id: hb, reply } = await raw.call('Heartbeat', {});
          expectedDeadLetters.push({ gw: 'p1', stationId: k.id, messageId: id, errorCode: code, case: k.name });
          return { callError: [err.id, err.code], thenServed: parseCallResult(reply).id === hb };
        } finally {
          await raw.close();
        }
      },
    })),
    {
      name: 'frame: a second CALL reusing the in-flight message id', gw: 'p1',
      expect: { first: ['CALLERROR', 'dup-id', 'ProtocolError'], second: ['CALLRESULT', 'dup-id'] },
      async run(k) {
        const raw = await openAuthed('p1', k.id);
        try {
          // Both in one TCP write: the second arrives while the first waits for Kafka.
          await raw.sendTextFramesTogether(['[2,"dup-id","Heartbeat",{}]', '[2,"dup-id","Heartbeat",{}]']);
          const a = (await raw.next(10_000)).json;
          const b = (await raw.next(10_000)).json;
          expectedDeadLetters.push({ gw: 'p1', stationId: k.id, messageId: 'dup-id', errorCode: 'ProtocolError', case: k.name });
          return { first: a[0] === 4 ? ['CALLERROR', a[1], a[2]] : ['CALLRESULT', a[1]], second: b[0] === 4 ? ['CALLERROR', b[1], b[2]] : ['CALLRESULT', b[1]] };
        } finally {
          await raw.close();
        }
      },
    },
    {
      name: 'frame: CALLRESULT for an id the gateway never sent', gw: 'p1', expect: { answered: false, thenServed: true },
      async run(k) {
        const raw = await openAuthed('p1', k.id);
        try {
          await raw.sendText('[3,"stray-result-id",{"status":"Accepted"}]');
          // The next message must answer the Heartbeat: nothing answers the stray CALLRESULT.
          const { id, reply } = await raw.call('Heartbeat', {});
          expectedDeadLetters.push({ gw: 'p1', stationId: k.id, messageId: 'stray-result-id', errorCode: null, case: k.name });
          return { answered: reply.json?.[1] === 'stray-result-id', thenServed: parseCallResult(reply).id === id };
        } finally {
          await raw.close();
        }
      },
    },
    {
      name: `message rate: 60 CALLs at once (limit ${RATE}/s, burst ${BURST})`, gw: 'p1',
      expect: { rateErrors: 'burst exceeded', description: `more than ${RATE} messages per second; slow down`, others: ['CALLRESULT', 'ProtocolError'] },
      events: (k) => [{ type: 'RateLimited', stationId: k.id, address: '127.0.0.1', count: 1 }],
      async run(k) {
        const raw = await openAuthed('p1', k.id);
        try {
          const sentAt = Date.now();
          await raw.sendTextFramesTogether(Array.from({ length: 60 }, (_, i) => `[2,"rate-${i}","Heartbeat",{}]`));
          const msgs = [];
          for (let i = 0; i < 60; i++) msgs.push((await raw.next(10_000, `reply ${i}`)).json);
          const spanS = (Date.now() - sentAt) / 1000;
          const rate = msgs.filter((m) => m[0] === 4 && m[2] === 'GenericError');
          const others = [...new Set(msgs.filter((m) => !(m[0] === 4 && m[2] === 'GenericError')).map((m) => (m[0] === 3 ? 'CALLRESULT' : m[2])))].sort();
          // Tokens: the burst (30) is taken, and at most what refills while the 60 frames are
          // read (no longer than from sending them to the last reply; a loaded machine reads slower).
          const n = rate.length;
          const refilled = Math.ceil(RATE * spanS) + 1;
          // A second burst later on the same connection: still no second event (one per connection).
          await raw.sendTextFramesTogether(Array.from({ length: 40 }, (_, i) => `[2,"rate2-${i}","Heartbeat",{}]`));
          for (let i = 0; i < 40; i++) await raw.next(10_000, `second burst reply ${i}`);
          return { rateErrors: n >= 60 - BURST - refilled && n <= 60 - BURST ? 'burst exceeded' : `${n} refused in ${spanS} s`, description: rate[0]?.[3], others };
        } finally {
          await raw.close();
        }
      },
    },

    // --- duplicate identities ---
    {
      name: 'duplicate identity with a wrong password: refused, the old session survives', gw: 'p1',
      expect: { http: 401, body: 'unauthorized', wwwAuthenticate: WWW_AUTH, oldOpen: true, oldAnswers: true },
      events: (k) => [{ type: 'AuthFailed', stationId: k.id, detail: /wrong password/ }],
      async run(k) {
        const old = await openAuthed('p1', k.id);
        try {
          await old.call('Heartbeat', {});
          const o = httpOutcome(await upgrade('p1', { id: k.id, password: 'not-it', addr: k.addr }));
          const { id, reply } = await old.call('Heartbeat', {});
          return { ...o, oldOpen: old.isOpen, oldAnswers: parseCallResult(reply).id === id };
        } finally {
          await old.close();
        }
      },
    },
    {
      name: 'duplicate identity with good credentials: the old session is closed 1008', gw: 'p1',
      expect: { newOpen: true, oldClose: 1008, newAnswers: true },
      events: (k) => [{ type: 'DuplicateIdentity', stationId: k.id, count: 1 }],
      async run(k) {
        const old = await openAuthed('p1', k.id);
        await old.call('Heartbeat', {});
        const fresh = await openAuthed('p1', k.id, { addr: k.addr });
        try {
          const info = await old.waitClose(10_000);
          const { id, reply } = await fresh.call('Heartbeat', {});
          expectedDisconnects.push({ gw: 'p1', stationId: k.id, closeCode: 1008, case: k.name });
          return { newOpen: fresh.isOpen, oldClose: info.code, newAnswers: parseCallResult(reply).id === id };
        } finally {
          await fresh.close();
        }
      },
    },
    {
      name: 'CS03 connected, then cs03 (same station, other case) with good credentials', gw: 'p4',
      expect: { newOpen: true, oldClose: 1008, newAnswers: true },
      events: () => [{ type: 'DuplicateIdentity', stationId: 'cs03', count: 1 }],
      async run(k) {
        const old = await openAuthed('p4', 'CS03', { password: GOOD_PW });
        await old.call('Heartbeat', {});
        const fresh = await openAuthed('p4', 'cs03', { addr: k.addr, password: GOOD_PW });
        try {
          const info = await old.waitClose(10_000);
          const { id, reply } = await fresh.call('Heartbeat', {});
          return { newOpen: fresh.isOpen, oldClose: info.code, newAnswers: parseCallResult(reply).id === id };
        } finally {
          await fresh.close();
        }
      },
    },
    {
      name: 'identity flapping: the 7th replacement within a minute', gw: 'p1',
      expect: { replaced: 6, http: 429, body: 'identity_flapping', retryAfter: '60', lastStillOpen: true },
      events: (k) => [{ type: 'DuplicateIdentity', stationId: k.id, count: 6 }, { type: 'DuplicateIdentityFlapping', stationId: k.id, count: 1 }],
      async run(k) {
        const conns = [];
        try {
          let replaced = 0;
          for (let i = 0; i < 7; i++) {
            const c = await openAuthed('p1', k.id, { addr: k.addr });
            // The gateway has registered the session once it answers.
            await c.call('Heartbeat', {});
            if (i > 0) { const info = await conns[i - 1].waitClose(10_000); if (info.code === 1008) replaced++; }
            conns.push(c);
          }
          const o = httpOutcome(await upgrade('p1', { id: k.id, password: PW, addr: k.addr }));
          return { replaced, ...o, lastStillOpen: conns[6].isOpen };
        } finally {
          for (const c of conns) await c.close();
        }
      },
    },

    // --- brute force ---
    {
      name: '1,000 wrong passwords within a minute from one address, then the right one', gw: 'p1',
      expect: { unauthorized: '5 to 12 × 401 (failures_per_identity 5, then 1 s, 2 s … backoff)', rest: 'all 429', bounded: true, rightPassword: 429, afterRetryAfter: 101 },
      async run(k) {
        const t0 = Date.now();
        const statuses = [];
        const retryAfters = [];
        for (let i = 0; i < 1_000; i += 20) {
          const batch = await Promise.all(Array.from({ length: 20 }, () => upgrade('p1', { id: k.id, password: 'guess', addr: k.addr })));
          for (const r of batch) { statuses.push(r.status); if (r.status === 429) retryAfters.push(Number(r.headers['retry-after'])); }
        }
        const elapsed = Date.now() - t0;
        const n401 = statuses.filter((s) => s === 401).length;
        const n429 = statuses.filter((s) => s === 429).length;
        assert.equal(n401 + n429, 1_000, `only 401 and 429: ${JSON.stringify(statuses.filter((s) => s !== 401 && s !== 429))}`);
        assert.ok(retryAfters.every((r) => Number.isInteger(r) && r >= 1 && r <= 300), 'Retry-After in seconds, 1..max_backoff');
        k.authFailures = n401;
        const right = await upgrade('p1', { id: k.id, password: PW, addr: k.addr });
        const wait = Number(right.headers?.['retry-after']);
        assert.ok(wait >= 1 && wait <= 64, `Retry-After ${wait}`);
        // The backoff is wall-clock time: waiting it out is the behaviour under test.
        await new Promise((r) => setTimeout(r, wait * 1_000 + 200));
        const later = await upgrade('p1', { id: k.id, password: PW, addr: k.addr });
        process.stderr.write(`# brute force: ${n401}×401, ${n429}×429 in ${elapsed} ms; right password: ${right.status} Retry-After ${wait}; after the wait: ${later.status}\n`);
        return {
          unauthorized: n401 >= 5 && n401 <= 12 ? '5 to 12 × 401 (failures_per_identity 5, then 1 s, 2 s … backoff)' : `${n401} × 401`,
          rest: n429 === 1_000 - n401 ? 'all 429' : `${n429} × 429`,
          bounded: elapsed < 30_000,
          rightPassword: right.status,
          afterRetryAfter: later.status,
        };
      },
      // AuthThrottled once per refusal period (at least one here: concurrent attempts that
      // passed the check together make the number of periods depend on timing).
      events: (k) => [{ type: 'AuthFailed', stationId: k.id, count: () => k.authFailures },
        { type: 'AuthThrottled', stationId: k.id }],
    },
    {
      name: 'per-address throttle: 20 failures for 20 identities, then good credentials from that address', gw: 'p1',
      expect: { failures: 20, then: 429, body: 'auth_throttled', otherAddress: 101 },
      async run(k) {
        k.ids = Array.from({ length: 20 }, () => takeId());
        const rs = await Promise.all(k.ids.map((id) => upgrade('p1', { id, password: 'guess', addr: k.addr })));
        const then = await upgrade('p1', { id: k.id, password: PW, addr: k.addr });
        const other = await upgrade('p1', { id: k.id, password: PW, addr: addrs.take() });
        return { failures: rs.filter((r) => r.status === 401).length, then: then.status, body: then.body?.trim(), otherAddress: other.status };
      },
      events: (k) => [...k.ids.map((id) => ({ type: 'AuthFailed', stationId: id, count: 1 })),
        { type: 'AuthThrottled', stationId: null, count: 1 }],
    },

    // --- admission (p4: 5 handshakes/s, bursts of 10; 3 connections per address) ---
    {
      name: 'connections per address over the limit (3)', gw: 'p4', expect: { opened: 3, http: 503, body: 'too_many_from_address', retryAfter: '10' },
      async run(k) {
        const conns = [];
        try {
          for (let i = 0; i < 3; i++) conns.push(await openAuthed('p4', takeId(), { addr: k.addr }));
          const o = httpOutcome(await upgrade('p4', { id: k.id, password: PW, addr: k.addr }));
          return { opened: conns.length, ...o };
        } finally {
          for (const c of conns) await c.close();
        }
      },
      events: (k) => [{ type: 'LimitHit', stationId: k.id, count: 1 }],
    },
    {
      name: 'handshake storm: 40 at once over the admission rate', gw: 'p4', expect: { refused503: 'most', retryAfter: ['1'], body: ['admission_rate'], others: [400] },
      async run(k) {
        // Path %00: admitted handshakes end in 400 without any credential work or event.
        const rs = await Promise.all(Array.from({ length: 40 }, () => rawUpgrade({ port: port('p4'), path: '/ocpp/%00', localAddress: addrs.take() })));
        const refused = rs.filter((r) => r.status === 503);
        return {
          refused503: refused.length >= 25 ? 'most' : refused.length,
          retryAfter: [...new Set(refused.map((r) => r.headers['retry-after']))],
          body: [...new Set(refused.map((r) => r.body.trim()))],
          others: [...new Set(rs.filter((r) => r.status !== 503).map((r) => r.status))],
        };
      },
      // One LimitHit for the storm (at most one per 10 s), from whichever address came first.
      events: () => [{ type: 'LimitHit', stationId: null, address: '*', count: 1 }],
    },
  ];

  const CATALOGUE = CASES.filter((c) => !c.skip);
  assert.ok(CATALOGUE.length >= 35, `the catalogue has ${CATALOGUE.length} cases`);

  for (const [i, c] of CATALOGUE.entries()) {
    const label = `#${String(i + 1).padStart(2, '0')} [${c.gw}] ${c.name} → ${JSON.stringify(c.expect)}`;
    test(label.replace(/;/g, ','), logOnFailure(c.gw, async () => {
      const k = { name: c.name, id: takeId(), addr: addrs.take(), gw: c.gw };
      const observed = await c.run(k);
      ran.add(c.name);
      for (const e of c.events?.(k) ?? []) {
        expectedEvents.push({ gw: c.gw, address: k.addr, ...e, count: typeof e.count === 'function' ? e.count() : e.count, case: c.name });
      }
      assert.deepEqual(observed, c.expect, c.name);
      await stillServed(c.gw);
    }));
  }

  test('security events: one per refusal, schema-valid, with type, station and address', logOnFailure('p1', async () => {
    assert.ok(expectedEvents.length > 0, 'no case expected an event (did the catalogue run?)');
    const ids = new Set(Object.values(gws).map((g) => g.gatewayId));
    // address: the bare IP, for refusals at the handshake and session-made events alike.
    const addrMatches = (a, want) => want === '*' || a === want;
    const matches = (rec, e) => rec.value?.type === e.type && rec.value?.stationId === e.stationId
      && addrMatches(rec.value?.address, e.address) && rec.value?.gatewayId === gws[e.gw].gatewayId;
    const { records, timedOut } = await reader.waitFor([TOPICS.security], (recs) =>
      expectedEvents.every((e) => recs.filter((r) => matches(r, e)).length >= (e.count ?? 1)),
    { from, timeoutMs: 20_000, what: 'gateway security events', allowTimeout: true });
    const ours = records.filter((r) => ids.has(r.value?.gatewayId));
    observations.securityEvents = ours.map((r) => r.value);
    const problems = [];
    for (const r of ours) {
      try {
        assertSchema('securityEvent', r.value, `ocpp.security@${r.partition}:${r.offset}`);
        assert.equal(r.headers['ocpp-source'], 'gateway', 'header ocpp-source');
        assert.equal(r.key, r.value.stationId ?? r.value.address, 'key: the station id, else the address');
        assert.ok(!r.text.includes(PW) && !r.text.includes(GOOD_PW), 'no password in an event');
      } catch (err) {
        problems.push(err.message);
      }
    }
    for (const e of expectedEvents) {
      const found = ours.filter((r) => matches(r, e));
      const want = e.count ?? 1;
      if (e.count !== undefined ? found.length !== want : found.length < 1) {
        problems.push(`${e.case}: expected ${want} ${e.type} event(s) for ${e.stationId} from ${e.address} on ${e.gw}, found ${found.length}`);
        continue;
      }
      if (e.detail && !found.every((r) => e.detail.test(r.value.detail))) {
        problems.push(`${e.case}: ${e.type} detail ${JSON.stringify(found.map((r) => r.value.detail))} does not match ${e.detail}`);
      }
    }
    // Nothing else: no event about the charging stations, none for the
    // refusals that must not raise one (paths, subprotocols, TLS versions),
    // and one per refusal period or storm, not per throttled attempt.
    const unexpected = ours.filter((r) => !expectedEvents.some((e) => matches(r, e)));
    for (const r of unexpected) problems.push(`unexpected event: ${r.text}`);
    if (timedOut) problems.push('not all expected events arrived within 20 s');
    assert.deepEqual(problems, [], 'security event problems');
  }));

  test('security events carry the bare peer IP as address (schema: "The peer\'s IP address")', async () => {
    assert.ok(observations.securityEvents?.length, 'the security event test ran');
    const withPort = observations.securityEvents.filter((v) => !/^(\d{1,3}\.){3}\d{1,3}$/.test(v.address));
    assert.deepEqual(withPort.map((v) => `${v.type} ${v.stationId}: ${v.address}`), []);
  });

  test('close codes: the gateway recorded each close on ocpp.connections', logOnFailure('p1', async () => {
    assert.ok(expectedDisconnects.length > 0);
    const keys = expectedDisconnects.map((d) => d.stationId);
    const matches = (r, d) => r.value?.type === 'Disconnected' && r.key === d.stationId && r.value?.gatewayId === gws[d.gw].gatewayId;
    const { records } = await reader.waitFor([TOPICS.connections], (recs) => expectedDisconnects.every((d) => recs.some((r) => matches(r, d))),
      { from, key: keys, timeoutMs: 20_000, what: 'Disconnected events' });
    const problems = [];
    for (const d of expectedDisconnects) {
      const disc = records.filter((r) => matches(r, d));
      try {
        for (const r of disc) assertSchema('connectionEvent', r.value, `Disconnected of ${d.stationId}`);
        assert.deepEqual(disc.map((r) => r.value.closeCode).filter((c) => c === d.closeCode).length, 1, `${d.case}: one Disconnected with closeCode ${d.closeCode}, got ${JSON.stringify(disc.map((r) => r.value.closeCode))}`);
      } catch (err) {
        problems.push(err.message);
      }
    }
    assert.deepEqual(problems, []);
  }));

  test('refused frames are dead-lettered with the CALLERROR code sent', logOnFailure('p1', async () => {
    assert.ok(expectedDeadLetters.length > 0);
    const keys = expectedDeadLetters.map((d) => d.stationId);
    const matches = (r, d) => r.key === d.stationId && r.value?.messageId === d.messageId && r.value?.gatewayId === gws[d.gw].gatewayId;
    const { records } = await reader.waitFor([TOPICS.deadLetter], (recs) => expectedDeadLetters.every((d) => recs.some((r) => matches(r, d))),
      { from, key: keys, timeoutMs: 20_000, what: 'dead-letter records' });
    for (const d of expectedDeadLetters) {
      const recs = records.filter((r) => matches(r, d));
      assert.equal(recs.length, 1, `${d.case}: one dead-letter record`);
      assertSchema('deadLetter', recs[0].value, d.case);
      assert.equal(recs[0].value.errorCode, d.errorCode, `${d.case}: errorCode`);
    }
  }));

  test('the charging stations were served throughout and every message of theirs is on Kafka', logOnFailure('p1', async () => {
    for (const [k, s] of Object.entries(good)) {
      assert.ok(s.answered - goodAtStart[k] >= 5, `${k}: too few calls answered during the catalogue (${s.answered - goodAtStart[k]})`);
    }
    for (const s of Object.values(good)) await s.stop();
    for (const [k, s] of Object.entries(good)) {
      assert.deepEqual(s.failures, [], `${k}: calls that failed`);
      assert.deepEqual(s.station.strictFailures.map((f) => `${f.method}: ${f.error?.message}`), [], `${k}: strict-mode failures`);
      assert.deepEqual(s.station.unexpected, [], `${k}: messages that answer no call`);
      assert.ok(s.sessions >= 1, `${k}: at least one complete charging session`);
      const calls = s.calls;
      assert.ok(calls.every((c) => c.reply !== undefined), `${k}: every call got a CALLRESULT`);
      const recs = (await reader.readToEnd([TOPICS.transactions, TOPICS.meterValues, TOPICS.heartbeats, TOPICS.status],
        { from, key: s.identity, timeoutMs: 30_000 })).filter((r) => r.value?.gatewayId === gws[k].gatewayId);
      assertSessionEvents(recs, calls, { stationId: s.identity, version: versionOf(s.protocol), gatewayId: gws[k].gatewayId });
      const dead = (await reader.readToEnd([TOPICS.deadLetter], { from, key: s.identity })).filter((r) => r.value?.gatewayId === gws[k].gatewayId);
      assert.deepEqual(dead.map((r) => r.text), [], `${k}: no dead letters for the charging station`);
      process.stderr.write(`# ${k}: ${s.identity} ${s.protocol}: ${calls.length} calls, ${s.sessions} charging sessions, all on Kafka\n`);
    }
    assert.equal(ran.size, CATALOGUE.length, `cases that did not complete: ${CATALOGUE.filter((c) => !ran.has(c.name)).map((c) => c.name).join(', ')}`);
  }));
});
