// Every outcome of an operator command (docs/commands.md), provoked on
// purpose against one gateway with an admin token: Timeout, NotConnected
// (connection lost mid-command, station offline), Expired, Rejected
// (InvalidPayload, UnknownAction, InvalidCommand), CallError, Superseded,
// duplicate commandIds, records that cannot get a result (dead-letter), a
// station CALL served while a command is outstanding, and the REST surface
// (authentication, station lookup, malformed requests).
//
// Every station has its own identity. Absence ("the handler was never
// called", "nothing was written") is proven with a marker: a later command
// on the same path that must be handled after the one that must not be.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import rpc from 'ocpp-rpc';

import { startGateway, uniqueStationId, withGatewayLog, httpGet } from '../lib/gateway.mjs';
import { TopicReader, TOPICS } from '../lib/kafka.mjs';
import { RawStation } from '../lib/raw-station.mjs';
import { readThreadCpuSeconds } from '../lib/monitor.mjs';
import { FIXTURES_DIR } from '../lib/paths.mjs';
import { assertSchema } from '../lib/schemas.mjs';
import {
  CommandClient, isolatedCommands, restCall, restGet, assertResult, connectStation, waitPresence, nextCall, callsOf, closeStations,
} from '../lib/commands.mjs';

const { createRPCError } = rpc;

const TOKEN = 'secret';
const RESULT_WAIT_MS = 20_000;
const TEST_TIMEOUT_MS = 60_000;
const request16 = (action) => JSON.parse(readFileSync(join(FIXTURES_DIR, 'ocpp1.6', 'requests', `${action}.json`), 'utf8'));

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

describe('operator command outcomes', () => {
  let gw;
  // Command topics of this file's gateway alone (see isolatedCommands).
  const iso = isolatedCommands();
  let reader;
  let cmd;
  let from;
  const stations = [];
  const resultIds = [];        // commands that must have exactly one result
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  /** Connects a station and waits until the gateway's presence table has it. */
  async function newStation(prefix, protocol, handlers, stationId = uniqueStationId(prefix)) {
    const client = await connectStation({ port: gw.port, stationId, protocol, handlers });
    stations.push(client);
    client.stationId = stationId;
    await waitPresence(gw.adminPort, stationId, { token: TOKEN });
    return client;
  }

  async function result(commandId) {
    resultIds.push(commandId);
    return cmd.waitResult(commandId, { timeoutMs: RESULT_WAIT_MS });
  }

  const base = (st, action, version) => ({ stationId: st.stationId, action, gatewayId: gw.gatewayId, ocppVersion: version });

  before(async () => {
    reader = await new TopicReader().connect();
    gw = await startGateway({ env: { OCPP_GATEWAY_ADMIN_TOKEN: TOKEN }, extraArgs: iso.extraArgs });
    from = await reader.snapshot([TOPICS.deadLetter, TOPICS.connections, TOPICS.heartbeats, iso.topics.commands, iso.topics.presence]);
    cmd = await new CommandClient({ topics: iso.topics }).start();
  });

  after(async () => {
    await closeStations(stations);
    try {
      if (gw) await gw.stop();
    } finally {
      await cmd?.stop();
      await reader?.close();
      await iso.cleanup();
    }
  });

  // First in the file: the gateway has just started, when its presence table lags the most.
  test('a command written the moment its station connected reaches it, whether or not the presence table has read the station back', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const fresh = await Promise.all(['ITNOW1', 'ITNOW2', 'ITNOW3', 'ITNOW4', 'ITNOW5'].map(async (prefix) => {
      const stationId = uniqueStationId(prefix);
      const client = await connectStation({ port: gw.port, stationId, protocol: 'ocpp1.6', handlers: { ClearCache: () => ({ status: 'Accepted' }) } });
      stations.push(client);
      client.stationId = stationId;
      await client.call('BootNotification', { chargePointVendor: 'Interop', chargePointModel: 'Now-1' });
      return client;
    }));
    const ids = await Promise.all(fresh.map((st) => cmd.send({ stationId: st.stationId, action: 'ClearCache', payload: {} })));
    const results = await Promise.all(ids.map((id) => result(id)));
    results.forEach((r, i) => assertResult(r, { ...base(fresh[i], 'ClearCache', '1.6'), commandId: ids[i], status: 'Completed', response: { status: 'Accepted' } }));
  }));

  test('a station that never answers: Timeout, sent, NoResponse after timeoutMs', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const st = await newStation('ITTO', 'ocpp1.6', { GetConfiguration: () => new Promise(() => {}) });
    const window = { from: Date.now() };
    const id = await cmd.send({ stationId: st.stationId, action: 'GetConfiguration', payload: {}, timeoutMs: 1500 });
    const r = await result(id);
    window.to = Date.now();
    assertResult(r, { ...base(st, 'GetConfiguration', '1.6'), commandId: id, status: 'Timeout', sent: true, errorCode: 'NoResponse', window });
    const calls = callsOf(st, 'GetConfiguration');
    assert.equal(calls.length, 1, 'the CALL reached the station once');
    assert.equal(r.messageId, calls[0].messageId, 'messageId = the CALL the station received');
    const waited = Date.parse(r.completedAt) - Date.parse(r.sentAt);
    assert.ok(waited >= 1_400 && waited <= 1_500 + 5_000, `Timeout decided ${waited} ms after sentAt (timeoutMs 1500)`);
  }));

  test('the station drops the connection mid-command: NotConnected, sent, ConnectionClosed', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const st = await newStation('ITDC', 'ocpp1.6', {
      Reset: (params, { client }) => {
        client.close({ force: true }).catch(() => {});   // TCP gone, no answer
        return new Promise(() => {});
      },
    });
    const window = { from: Date.now() };
    const id = await cmd.send({ stationId: st.stationId, action: 'Reset', payload: { type: 'Hard' } });
    const r = await result(id);
    window.to = Date.now();
    assertResult(r, { ...base(st, 'Reset', '1.6'), commandId: id, status: 'NotConnected', sent: true, errorCode: 'ConnectionClosed', window });
    assert.equal(r.messageId, callsOf(st, 'Reset')[0]?.messageId, 'messageId = the CALL the station received');
    // Presence follows the disconnect.
    const p = await waitPresence(gw.adminPort, st.stationId, { connected: false, token: TOKEN });
    assert.equal(p.connected, false);
  }));

  test('a command for a station whose connection is closing waits for its end, without spinning a thread', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const stationId = uniqueStationId('ITCLOSING');
    const raw = await RawStation.connect(gw.wsUrl(stationId), ['ocpp1.6']);
    try {
      await waitPresence(gw.adminPort, stationId, { token: TOKEN });
      // The station stops reading and pings until the gateway closes it (1 MiB of pongs
      // unread); the close frame is not read either, so the connection stays closing for the
      // gateway's close handshake timeout (5 s).
      raw.ws._socket.pause();
      const stalled = new RegExp(`station ${stationId}: \\d+ bytes sent to it wait unread`);
      const ping = Buffer.alloc(125, 0x61);
      for (let i = 0; i < 80_000; i++) {
        raw.ws.ping(ping);
        if (i % 1000 === 999) {
          if (stalled.test(gw.output())) break;
          while (raw.ws.bufferedAmount > (1 << 20)) await new Promise((r) => setTimeout(r, 5));
        }
      }
      await gw.waitForOutput(stalled, 10_000);
      const cpuBefore = readThreadCpuSeconds(gw.pid);
      const sentAt = Date.now();
      const id = await cmd.send({ stationId, action: 'ClearCache', payload: {} });
      const r = await result(id);
      const cpuAfter = readThreadCpuSeconds(gw.pid);
      const wall = (Date.now() - sentAt) / 1000;
      // The command waited for the connection's end and then found the station nowhere.
      assertResult(r, { commandId: id, stationId, action: 'ClearCache', status: 'NotConnected', sent: false });
      // It reached the gateway while the connection was closing, not after it ended.
      const { result: gone } = await reader.waitFor([TOPICS.connections], (recs) => recs.find((x) => x.value?.type === 'Disconnected'),
        { from, key: stationId, timeoutMs: 15_000, what: `Disconnected of ${stationId}` });
      assert.ok(Date.parse(r.receivedAt) < Date.parse(gone.value.at), `command taken at ${r.receivedAt}, connection ended at ${gone.value.at}`);
      // Handed back while closing, it came straight back to the same session, round and
      // round on one I/O thread: that thread busy for the whole wait.
      const busiest = Math.max(0, ...Object.keys(cpuAfter).map((tid) => cpuAfter[tid] - (cpuBefore[tid] ?? 0)));
      assert.ok(busiest < 0.25 * wall, `a gateway thread used ${busiest.toFixed(2)} s of CPU in the ${wall.toFixed(1)} s the command waited`);
    } finally {
      raw.ws.terminate();
    }
  }));

  test('a station that is connected nowhere: NotConnected, not sent, StationNotConnected', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const stationId = uniqueStationId('ITOFF');
    const window = { from: Date.now() };
    const id = await cmd.send({ stationId, action: 'Reset', payload: { type: 'Soft' } });
    const r = await result(id);
    window.to = Date.now();
    assertResult(r, { commandId: id, stationId, action: 'Reset', status: 'NotConnected', sent: false, gatewayId: gw.gatewayId, errorCode: 'StationNotConnected', window });
    // An action no OCPP version has is refused as such, connected or not.
    const typo = await cmd.send({ stationId, action: 'Resett', payload: { type: 'Soft' } });
    const t = await result(typo);
    assertResult(t, { commandId: typo, stationId, action: 'Resett', status: 'Rejected', sent: false, gatewayId: gw.gatewayId, errorCode: 'UnknownAction' });
    assert.match(t.error.description, /not an action the central system sends in any OCPP version/);
  }));

  test('expired while queued behind a slow command: Expired, never sent', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const st = await newStation('ITEXP', 'ocpp1.6', {
      // The station takes 2 s to answer a reset (station behaviour, not synchronisation).
      Reset: async () => { await delay(2_000); return { status: 'Accepted' }; },
      ChangeConfiguration: () => ({ status: 'Accepted' }),
    });
    const slowId = await cmd.send({ stationId: st.stationId, action: 'Reset', payload: { type: 'Soft' } });
    await nextCall(st, (c) => c.action === 'Reset', { what: 'the slow Reset' });
    // The Reset is outstanding: this one has to wait behind it, and may not be sent after 500 ms.
    const expiresAt = new Date(Date.now() + 500).toISOString();
    const payload = { key: 'HeartbeatInterval', value: '30' };
    const expId = await cmd.send({ stationId: st.stationId, action: 'ChangeConfiguration', payload, expiresAt });
    const r = await result(expId);
    assertResult(r, { ...base(st, 'ChangeConfiguration', '1.6'), commandId: expId, status: 'Expired', sent: false, errorCode: 'Expired' });
    assert.ok(Date.parse(r.completedAt) >= Date.parse(expiresAt), `Expired decided at ${r.completedAt}, before expiresAt ${expiresAt}`);
    assertResult(await result(slowId), { ...base(st, 'Reset', '1.6'), commandId: slowId, status: 'Completed', sent: true, response: { status: 'Accepted' } });

    // Marker: a ChangeConfiguration without expiry is delivered; it must be the only one.
    const markerId = await cmd.send({ stationId: st.stationId, action: 'ChangeConfiguration', payload });
    const m = await result(markerId);
    assertResult(m, { ...base(st, 'ChangeConfiguration', '1.6'), commandId: markerId, status: 'Completed', sent: true, response: { status: 'Accepted' } });
    assert.deepEqual(callsOf(st, 'ChangeConfiguration').map((c) => c.messageId), [m.messageId],
      'the expired command must never reach the station');
  }));

  test('invalid payload: Rejected, InvalidPayload with violations, never sent', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const st = await newStation('ITINV', 'ocpp1.6', { Reset: () => ({ status: 'Accepted' }) });
    const cases = [
      { what: 'enum value out of range', payload: { type: 'Sideways' }, mention: /type/ },
      { what: 'required property missing', payload: {}, mention: /type/ },
      { what: 'additional property', payload: { type: 'Soft', colour: 'red' }, mention: /colour/ },
    ];
    for (const c of cases) {
      const id = await cmd.send({ stationId: st.stationId, action: 'Reset', payload: c.payload });
      const r = await result(id);
      assertResult(r, { ...base(st, 'Reset', '1.6'), commandId: id, status: 'Rejected', sent: false, errorCode: 'InvalidPayload', violations: true });
      assert.ok(r.violations.some((v) => c.mention.test(`${v.path} ${v.message}`)),
        `${c.what}: some violation should name ${c.mention}: ${JSON.stringify(r.violations)}`);
    }
    const markerId = await cmd.send({ stationId: st.stationId, action: 'Reset', payload: { type: 'Soft' } });
    const m = await result(markerId);
    assertResult(m, { ...base(st, 'Reset', '1.6'), commandId: markerId, status: 'Completed', sent: true, response: { status: 'Accepted' } });
    assert.deepEqual(callsOf(st, 'Reset').map((c) => c.params), [{ type: 'Soft' }], 'only the valid Reset reaches the station');
    assert.deepEqual(st.strictFailures, [], 'the station never saw an invalid CALL');
  }));

  test('unknown action for the station\'s version: Rejected, UnknownAction, never sent', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const st16 = await newStation('ITUA16', 'ocpp1.6', { Reset: () => ({ status: 'Accepted' }) });
    const st201 = await newStation('ITUA201', 'ocpp2.0.1', { Reset: () => ({ status: 'Accepted' }) });
    const cases = [
      [st16, '1.6', 'RequestStartTransaction', { idToken: { idToken: 'A', type: 'ISO14443' }, remoteStartId: 1 }],
      [st16, '1.6', 'BootNotification', request16('BootNotification')],    // station-initiated only
      [st16, '1.6', 'NoSuchAction', {}],
      [st201, '2.0.1', 'RemoteStartTransaction', { idTag: 'A' }],
      [st201, '2.0.1', 'GetConfiguration', {}],
    ];
    for (const [st, version, action, payload] of cases) {
      const id = await cmd.send({ stationId: st.stationId, action, payload });
      const r = await result(id);
      assertResult(r, { ...base(st, action, version), commandId: id, status: 'Rejected', sent: false, errorCode: 'UnknownAction' });
    }
    // Markers: a known action is still delivered, and nothing else was.
    for (const [st, payload] of [[st16, { type: 'Soft' }], [st201, { type: 'Immediate' }]]) {
      const id = await cmd.send({ stationId: st.stationId, action: 'Reset', payload });
      assert.equal((await result(id)).status, 'Completed');
      assert.deepEqual(st.received.map((c) => c.action), ['Reset'], `${st.stationId}: only the Reset reached the station`);
    }
  }));

  test('the station answers with a CALLERROR: CallError with its code, description and details', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const st16 = await newStation('ITCE16', 'ocpp1.6', {
      UnlockConnector: () => { throw createRPCError('NotImplemented', 'no unlock on this model', { model: 'IT-1' }); },
    });
    const st201 = await newStation('ITCE201', 'ocpp2.0.1', {
      UnlockConnector: () => { throw createRPCError('SecurityError', 'not allowed'); },
    });
    const window = { from: Date.now() };
    const id16 = await cmd.send({ stationId: st16.stationId, action: 'UnlockConnector', payload: { connectorId: 1 } });
    const r16 = await result(id16);
    assertResult(r16, {
      ...base(st16, 'UnlockConnector', '1.6'), commandId: id16, status: 'CallError', sent: true, window,
      error: { code: 'NotImplemented', description: 'no unlock on this model', details: { model: 'IT-1' } },
    });
    assert.equal(r16.messageId, callsOf(st16, 'UnlockConnector')[0]?.messageId);

    const id201 = await cmd.send({ stationId: st201.stationId, action: 'UnlockConnector', payload: { evseId: 1, connectorId: 1 } });
    const r201 = await result(id201);
    assertResult(r201, {
      ...base(st201, 'UnlockConnector', '2.0.1'), commandId: id201, status: 'CallError', sent: true,
      error: { code: 'SecurityError', description: 'not allowed' },
    });
    // ocpp-rpc sends {} as details; the gateway may leave empty details out.
    assert.ok(r201.error.details === undefined || Object.keys(r201.error.details).length === 0, `details ${JSON.stringify(r201.error.details)}`);
  }));

  test('duplicate commandId: delivered once, exactly one result', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const st = await newStation('ITDUP', 'ocpp1.6', { Reset: ({ type }) => ({ status: type === 'Soft' ? 'Accepted' : 'Rejected' }) });
    const id = `it-dup-${randomUUID()}`;
    const text = JSON.stringify({ commandId: id, stationId: st.stationId, action: 'Reset', payload: { type: 'Soft' } });
    await cmd.sendRaw(st.stationId, text);
    await cmd.sendRaw(st.stationId, text);
    // Same id, other content: still a duplicate.
    await cmd.sendRaw(st.stationId, JSON.stringify({ commandId: id, stationId: st.stationId, action: 'Reset', payload: { type: 'Hard' } }));
    const r = await result(id);
    const firstAt = Date.now();
    assertResult(r, { ...base(st, 'Reset', '1.6'), commandId: id, status: 'Completed', sent: true, response: { status: 'Accepted' } });
    // Marker behind the duplicates on the same partition.
    const markerId = await cmd.send({ stationId: st.stationId, action: 'Reset', payload: { type: 'Soft' } });
    const m = await result(markerId);
    assert.equal(m.status, 'Completed');
    // Observation window (not synchronisation): a second result would have
    // had 3 s since the first to appear.
    await delay(Math.max(0, firstAt + 3_000 - Date.now()));
    assert.equal(cmd.resultsFor(id).length, 1, `results for ${id}: ${JSON.stringify(cmd.resultsFor(id).map((x) => x.value))}`);
    assert.deepEqual(callsOf(st, 'Reset').map((c) => c.messageId), [r.messageId, m.messageId], 'the command reached the station once, then the marker');
    assert.deepEqual(callsOf(st, 'Reset').map((c) => c.params.type), ['Soft', 'Soft']);
  }));

  test('a commandId taken by another station\'s or action\'s command: dead-lettered with the reason, never sent, no result', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const handlers = { Reset: () => ({ status: 'Accepted' }), ClearCache: () => ({ status: 'Accepted' }) };
    const first = await newStation('ITREUSE', 'ocpp1.6', handlers);
    const other = await newStation('ITREUSE', 'ocpp1.6', handlers);
    const id = `it-reuse-${randomUUID()}`;
    await cmd.send({ commandId: id, stationId: first.stationId, action: 'Reset', payload: { type: 'Soft' } });
    const r = await result(id);
    assertResult(r, { ...base(first, 'Reset', '1.6'), commandId: id, status: 'Completed', sent: true, response: { status: 'Accepted' } });
    // The same id for another station (sent twice: each time it is read, it is refused again),
    // and for the same station with another action; then a repeat of the first (same station
    // and action: a retry, dropped without a word).
    const reuses = [
      { what: 'another station', key: other.stationId, times: 2, text: JSON.stringify({ commandId: id, stationId: other.stationId, action: 'Reset', payload: { type: 'Soft' } }) },
      { what: 'another action', key: first.stationId, times: 1, text: JSON.stringify({ commandId: id, stationId: first.stationId, action: 'ClearCache', payload: {} }) },
    ];
    for (const u of reuses) {
      for (let i = 0; i < u.times; i++) await cmd.sendRaw(u.key, u.text);
    }
    const retry = JSON.stringify({ commandId: id, stationId: first.stationId, action: 'Reset', payload: { type: 'Hard' } });
    await cmd.sendRaw(first.stationId, retry);
    // Markers behind the reuses, on both stations' partitions: whatever the reuses and the
    // retry cause comes before these results.
    const markers = [await cmd.send({ stationId: other.stationId, action: 'ClearCache', payload: {} }),
      await cmd.send({ stationId: first.stationId, action: 'ClearCache', payload: {} })];
    for (const m of markers) assert.equal((await result(m)).status, 'Completed');
    const { records } = await reader.waitFor([TOPICS.deadLetter],
      (recs) => reuses.every((u) => recs.filter((d) => d.value?.raw === u.text).length >= u.times),
      { from, timeoutMs: 20_000, what: `dead-letter records of the reuses of ${id}` });
    for (const u of reuses) {
      const recs = records.filter((d) => d.value?.raw === u.text);
      assert.equal(recs.length, u.times, `${u.what}: ${u.times} dead-letter records, got ${recs.length}`);
      const v = recs[0].value;
      assertSchema('deadLetter', v, `${u.what}: dead-letter record`);
      assert.equal(recs[0].key, u.key, `${u.what}: key = the command record's key`);
      assert.match(v.reason, /commandId .* taken .* another station or action/, `${u.what}: reason ${JSON.stringify(v.reason)}`);
      assert.equal(v.topic, iso.topics.commands, `${u.what}: topic of the refused record`);
    }
    // A dead-letter record for the retry would have been queued before the marker behind it was
    // taken (the count of reuses below is the exact check: taken at intake, in order).
    const all = await reader.readToEnd([TOPICS.deadLetter], { from });
    assert.equal(all.filter((d) => d.value?.raw === retry).length, 0, 'the retry of the first command is a repeat, not a reuse');
    assert.equal(cmd.resultsFor(id).length, 1, `results for ${id}: ${JSON.stringify(cmd.resultsFor(id).map((x) => x.value))}`);
    assert.deepEqual(callsOf(other, 'Reset'), [], 'the other station never got the reused command');
    assert.deepEqual(callsOf(first, 'ClearCache').map((c) => c.messageId), [cmd.resultsFor(markers[1])[0].value.messageId],
      'the first station got the marker alone, not the command of the other action');
    assert.deepEqual(callsOf(first, 'Reset').map((c) => c.params.type), ['Soft'], 'the first station got the command once');
    const metrics = await restGet(gw.adminPort, '/metrics', { token: TOKEN });
    assert.match(metrics.text, /^ocpp_command_ids_reused_total 3$/m, 'reuses counted');
  }));

  test('a station CALL while a command is outstanding is still answered', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    let release;
    const released = new Promise((r) => { release = r; });
    const st = await newStation('ITHB', 'ocpp1.6', {
      GetConfiguration: async () => { await released; return { configurationKey: [{ key: 'HeartbeatInterval', readonly: false, value: '300' }] }; },
    });
    const id = await cmd.send({ stationId: st.stationId, action: 'GetConfiguration', payload: { key: ['HeartbeatInterval'] }, timeoutMs: 20_000 });
    await nextCall(st, (c) => c.action === 'GetConfiguration', { what: 'the held GetConfiguration' });
    const before = st.sent.length;
    const hb = await st.call('Heartbeat', {});
    assert.ok(!Number.isNaN(Date.parse(hb.currentTime)), `Heartbeat answered: ${JSON.stringify(hb)}`);
    const hbEntry = st.sent.slice(before).find((e) => e.action === 'Heartbeat');
    assert.equal(cmd.resultsFor(id).length, 0, 'the command is still outstanding while the Heartbeat is answered');
    const recs = await reader.readToEnd([TOPICS.heartbeats], { from, key: st.stationId });
    assert.equal(recs.filter((x) => x.value?.messageId === hbEntry.messageId).length, 1, 'the Heartbeat is on ocpp.heartbeats');
    release();
    const r = await result(id);
    assertResult(r, {
      ...base(st, 'GetConfiguration', '1.6'), commandId: id, status: 'Completed', sent: true,
      response: { configurationKey: [{ key: 'HeartbeatInterval', readonly: false, value: '300' }] },
    });
    assert.ok(Date.parse(r.completedAt) >= hbEntry.repliedAt - 1_000, 'completed after the Heartbeat was answered');
  }));

  test('malformed command with a commandId: Rejected, InvalidCommand, never sent', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const st = await newStation('ITMAL', 'ocpp1.6', { Reset: () => ({ status: 'Accepted' }) });
    const sid = st.stationId;
    const cases = [
      { what: 'action missing', value: { stationId: sid, payload: { type: 'Soft' } } },
      { what: 'payload missing', value: { stationId: sid, action: 'Reset' } },
      { what: 'payload not an object', value: { stationId: sid, action: 'Reset', payload: ['Soft'] } },
      { what: 'timeoutMs out of range', value: { stationId: sid, action: 'Reset', payload: { type: 'Soft' }, timeoutMs: 600_001 } },
      { what: 'expiresAt not a time', value: { stationId: sid, action: 'Reset', payload: { type: 'Soft' }, expiresAt: 'tomorrow' } },
    ];
    for (const c of cases) {
      const id = `it-mal-${randomUUID()}`;
      await cmd.sendRaw(sid, JSON.stringify({ commandId: id, ...c.value }));
      const r = await result(id);
      const expected = { commandId: id, status: 'Rejected', sent: false, gatewayId: gw.gatewayId, errorCode: 'InvalidCommand' };
      if (c.value.stationId !== undefined) expected.stationId = c.value.stationId;
      if (c.value.action !== undefined) expected.action = c.value.action;
      try {
        assertResult(r, expected);
      } catch (err) {
        err.message = `${c.what}: ${err.message}`;
        throw err;
      }
      // docs/commands.md: action is copied "as given"; none was given, so the
      // result must not invent one (such as "").
      if (c.value.action === undefined) assert.equal(r.action, undefined, `${c.what}: the command had no action, the result must have none`);
    }
    const markerId = await cmd.send({ stationId: sid, action: 'Reset', payload: { type: 'Soft' } });
    assert.equal((await result(markerId)).status, 'Completed');
    assert.equal(callsOf(st, 'Reset').length, 1, 'only the marker reached the station');
  }));

  test('a record without a usable commandId goes to ocpp.dead-letter with the reason', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const cases = [
      { what: 'commandId missing', key: uniqueStationId('ITDL'), build: (k) => JSON.stringify({ stationId: k, action: 'Reset', payload: { type: 'Soft' } }), reason: /commandId/i },
      { what: 'commandId empty', key: uniqueStationId('ITDL'), build: (k) => JSON.stringify({ commandId: '', stationId: k, action: 'Reset', payload: { type: 'Soft' } }), reason: /commandId/i },
      { what: 'commandId not a string', key: uniqueStationId('ITDL'), build: (k) => JSON.stringify({ commandId: 42, stationId: k, action: 'Reset', payload: { type: 'Soft' } }), reason: /commandId/i },
      { what: 'value not JSON', key: uniqueStationId('ITDL'), build: (k) => `{"commandId": "x-${k}", oops`, reason: /./ },
      // 200,000 levels: a copy of it overflowed the reading thread's stack, on every instance
      // and again after each restart.
      { what: 'payload nested too deeply', key: uniqueStationId('ITDL'), build: (k) => `{"commandId":"deep-${k}","stationId":"${k}","action":"DataTransfer","payload":{"vendorId":"v","data":${'['.repeat(200_000)}${']'.repeat(200_000)}}}`, reason: /nested deeper than 1024 levels/ },
    ];
    for (const c of cases) {
      c.text = c.build(c.key);
      await cmd.sendRaw(c.key, c.text);
    }
    const matches = (r, c) => r.key === c.key || r.value?.raw === c.text;
    const { records } = await reader.waitFor([TOPICS.deadLetter],
      (recs) => cases.every((c) => recs.some((r) => matches(r, c))),
      { from, timeoutMs: 20_000, what: 'dead-letter records for the commands without a usable commandId' });
    for (const c of cases) {
      const recs = records.filter((r) => matches(r, c));
      assert.equal(recs.length, 1, `${c.what}: exactly one dead-letter record, got ${recs.length}`);
      const v = recs[0].value;
      assert.ok(v && typeof v.reason === 'string', `${c.what}: dead-letter record has a reason: ${recs[0].text}`);
      assert.match(v.reason, c.reason, `${c.what}: reason ${JSON.stringify(v.reason)}`);
      assertSchema('deadLetter', v, `${c.what}: dead-letter record`);
      if (c.text.length <= 64 * 1024) {
        assert.equal(v.raw, c.text, `${c.what}: raw = the record value`);
      } else {
        assert.ok(c.text.startsWith(v.raw) && v.raw.length === 64 * 1024, `${c.what}: raw = the record value's first 64 KiB (${v.raw.length} characters)`);
        assert.equal(v.rawBytes, c.text.length, `${c.what}: rawBytes`);
      }
      if (v.topic !== undefined) assert.equal(v.topic, iso.topics.commands, `${c.what}: topic of the refused record`);
      if (v.gatewayId !== undefined) assert.equal(v.gatewayId, gw.gatewayId, `${c.what}: gatewayId`);
    }
    // None of them produced a result.
    for (const c of cases) {
      assert.equal(cmd.records.filter((r) => r.key === c.key).length, 0, `${c.what}: no result record`);
    }
  }));

  test('a newer connection of the station: Superseded for the outstanding CALL, queued commands move to it', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const stationId = uniqueStationId('ITSUP');
    const first = await newStation('ITSUP', 'ocpp1.6', {
      GetConfiguration: () => new Promise(() => {}),
      Reset: () => ({ status: 'Accepted' }),
    }, stationId);
    const p1 = await waitPresence(gw.adminPort, stationId, { token: TOKEN });
    const heldId = await cmd.send({ stationId, action: 'GetConfiguration', payload: {}, timeoutMs: 30_000 });
    await nextCall(first, (c) => c.action === 'GetConfiguration', { what: 'the held GetConfiguration' });
    const queuedId = await cmd.send({ stationId, action: 'Reset', payload: { type: 'Soft' } });

    const second = await connectStation({ port: gw.port, stationId, protocol: 'ocpp1.6', handlers: { Reset: () => ({ status: 'Accepted' }) } });
    stations.push(second);
    second.stationId = stationId;

    const held = await result(heldId);
    assertResult(held, { ...base(second, 'GetConfiguration', '1.6'), commandId: heldId, status: 'Superseded', sent: true, errorCode: 'Superseded' });
    assert.equal(held.messageId, callsOf(first, 'GetConfiguration')[0].messageId);
    const queued = await result(queuedId);
    assertResult(queued, { ...base(second, 'Reset', '1.6'), commandId: queuedId, status: 'Completed', sent: true, response: { status: 'Accepted' } });
    assert.deepEqual(callsOf(second, 'Reset').map((c) => c.messageId), [queued.messageId], 'the queued command went to the new connection');
    assert.equal(callsOf(first, 'Reset').length, 0, 'the old connection never got the queued command');

    // Presence: the newer connection, with a larger epoch.
    let p2;
    const deadline = Date.now() + 15_000;
    do {
      p2 = (await restGet(gw.adminPort, `/v1/stations/${encodeURIComponent(stationId)}`, { token: TOKEN })).body;
      if (p2?.sessionId !== p1.sessionId) break;
      await delay(100);   // presence poll interval
    } while (Date.now() < deadline);
    assert.equal(p2.connected, true);
    assert.notEqual(p2.sessionId, p1.sessionId, 'presence shows the newer session');
    assert.ok(p2.epoch > p1.epoch, `epoch ${p2.epoch} of the newer connection must be larger than ${p1.epoch}`);
  }));

  test('REST: bearer token required on /v1 and /metrics; /healthz and /readyz stay open', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const st = await newStation('ITAUTH', 'ocpp1.6', { Reset: () => ({ status: 'Accepted' }) });
    const noToken = await restCall(gw.adminPort, st.stationId, 'Reset', { type: 'Soft' }, { timeoutMs: 5_000 });
    assert.equal(noToken.status, 401, `POST without token: ${noToken.status} ${noToken.text}`);
    const wrong = await restCall(gw.adminPort, st.stationId, 'Reset', { type: 'Soft' }, { token: 'wrong', timeoutMs: 5_000 });
    assert.equal(wrong.status, 401, `POST with a wrong token: ${wrong.status} ${wrong.text}`);
    const prefix = await restCall(gw.adminPort, st.stationId, 'Reset', { type: 'Soft' }, { token: `${TOKEN}x`, timeoutMs: 5_000 });
    assert.equal(prefix.status, 401, `POST with the token plus a character: ${prefix.status}`);
    const ok = await restCall(gw.adminPort, st.stationId, 'Reset', { type: 'Soft' }, { token: TOKEN, timeoutMs: RESULT_WAIT_MS });
    assert.equal(ok.status, 200, `POST with the token: ${ok.status} ${ok.text}`);
    resultIds.push(ok.body.commandId);
    assertResult(ok.body, { ...base(st, 'Reset', '1.6'), status: 'Completed', sent: true, response: { status: 'Accepted' } });
    assert.deepEqual(callsOf(st, 'Reset').map((c) => c.messageId), [ok.body.messageId], 'refused requests reach no station');

    for (const path of [`/v1/stations/${encodeURIComponent(st.stationId)}`, '/v1/stations', '/metrics']) {
      assert.equal((await restGet(gw.adminPort, path)).status, 401, `GET ${path} without token`);
      assert.equal((await restGet(gw.adminPort, path, { token: 'wrong' })).status, 401, `GET ${path} with a wrong token`);
      assert.equal((await restGet(gw.adminPort, path, { token: TOKEN })).status, 200, `GET ${path} with the token`);
    }
    assert.equal((await httpGet(gw.adminUrl('/healthz'))).status, 200, '/healthz without token');
    assert.equal((await httpGet(gw.adminUrl('/readyz'))).status, 200, '/readyz without token');
  }));

  test('REST: GET /v1/stations/{id} from the presence table; unknown station 404', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const window = { from: Date.now() };
    const st16 = await newStation('ITPR16', 'ocpp1.6', {});
    const st201 = await newStation('ITPR201', 'ocpp2.0.1', {});
    for (const [st, version] of [[st16, '1.6'], [st201, '2.0.1']]) {
      const res = await restGet(gw.adminPort, `/v1/stations/${encodeURIComponent(st.stationId)}`, { token: TOKEN });
      assert.equal(res.status, 200, res.text);
      const p = res.body;
      assert.equal(p.stationId, st.stationId);
      assert.equal(p.connected, true);
      assert.equal(p.gatewayId, gw.gatewayId);
      assert.equal(p.ocppVersion, version);
      assert.ok(Number.isInteger(p.epoch) && p.epoch >= 0, `epoch ${p.epoch}`);
      assert.ok(Date.parse(p.since) >= window.from - 5_000 && Date.parse(p.since) <= Date.now() + 5_000, `since ${p.since}`);
      const { result: conn } = await reader.waitFor([TOPICS.connections],
        (recs) => recs.find((r) => r.value?.type === 'Connected'),
        { from, key: st.stationId, timeoutMs: 15_000, what: `Connected of ${st.stationId}` });
      assert.equal(p.sessionId, conn.value.sessionId, 'sessionId = the one of the Connected record');

      // The presence record itself (compacted topic, key = lower-case id).
      const { result: pres } = await reader.waitFor([iso.topics.presence],
        (recs) => recs.find((r) => r.value?.sessionId === p.sessionId && r.value?.state === 'Connected'),
        { from, key: st.stationId.toLowerCase(), timeoutMs: 15_000, what: `presence of ${st.stationId}` });
      assertSchema('presence', pres.value, `presence of ${st.stationId}`);
      assert.equal(pres.value.gatewayId, gw.gatewayId);
      // A Connected record's own offset is the epoch (it cannot carry it).
      if (pres.value.epoch !== undefined) assert.equal(pres.value.epoch, pres.offset, 'epoch of a fresh Connected record = its offset');
      assert.equal(p.epoch, pres.offset, 'REST epoch = offset of the Connected presence record');
    }
    const list = await restGet(gw.adminPort, '/v1/stations', { token: TOKEN });
    assert.equal(list.status, 200, list.text);
    assert.ok(Array.isArray(list.body?.stations), `GET /v1/stations: ${list.text}`);
    for (const st of [st16, st201]) {
      assert.ok(list.body.stations.some((s) => s.stationId === st.stationId && s.connected === true), `${st.stationId} listed as connected`);
    }
    assert.ok(list.body.stations.every((s) => s.connected === true), 'GET /v1/stations lists connected stations only');

    const unknown = await restGet(gw.adminPort, `/v1/stations/${encodeURIComponent(uniqueStationId('ITNEVER'))}`, { token: TOKEN });
    assert.equal(unknown.status, 404, `unknown station: ${unknown.status} ${unknown.text}`);

    // This instance's liveness record.
    const { result: live } = await reader.waitFor([iso.topics.presence],
      (recs) => recs.find((r) => r.value?.kind === 'gateway'),
      { from, key: `gateway:${gw.gatewayId}`, timeoutMs: 30_000, what: `liveness of ${gw.gatewayId}` });
    assertSchema('presence', live.value, 'gateway liveness');
    assert.equal(live.value.gatewayId, gw.gatewayId);
    assert.equal(live.value.state, 'Alive');
  }));

  test('REST: malformed requests get 400 (a chunked body 411) and write nothing', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const st = await newStation('ITBAD', 'ocpp1.6', { Reset: () => ({ status: 'Accepted' }) });
    const sid = st.stationId;
    const bad = [
      ['body not JSON', { rawBody: '{"type": Soft' }],
      ['body a JSON array', { rawBody: '["Soft"]' }],
      ['body a JSON string', { rawBody: '"Soft"' }],
      ['empty body', { rawBody: '' }],
      // Fits the 256 KiB body limit; printing it into the record overflowed the stack.
      ['body nested too deeply', { rawBody: `{"type":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, reason: /nested deeper than 1023 levels/ }],
      ['timeoutMs not a number', { query: { timeoutMs: 'abc' } }],
      ['timeoutMs out of range', { query: { timeoutMs: '0' } }],
      ['expiresAt not a time', { query: { expiresAt: 'tomorrow' } }],
      // A '+' written into the URL unencoded arrives as a space.
      ['expiresAt with its + unencoded', { query: { expiresAt: '2030-01-01T00:00:00 01:00' }, reason: /write it %2B/ }],
      // Percent-decoded bytes that are not UTF-8 cannot go into a JSON record (this ended the
      // process before); nor can such a header.
      ['query name not UTF-8', { rawQuery: '%FF=1', reason: /not UTF-8/ }],
      ['commandId not UTF-8', { rawQuery: 'commandId=%FF', reason: /not UTF-8/ }],
      ['Idempotency-Key not UTF-8', { headers: { 'Idempotency-Key': 'k\xff' }, reason: /Idempotency-Key header is not UTF-8/ }],
      // Given empty, an id would be made up: no idempotency where the caller expects it.
      ['commandId empty', { query: { commandId: '' }, reason: /commandId must be 1 to 128/ }],
      // websocketpp reads no chunked body: 411 rather than "the body must be a JSON object".
      ['body sent chunked', { chunked: true, status: 411, reason: /Content-Length/ }],
    ];
    for (const [what, opts] of bad) {
      const { reason, status = 400, ...call } = opts;
      const res = await restCall(gw.adminPort, sid, 'Reset', { type: 'Soft' }, { ...call, token: TOKEN, timeoutMs: 5_000 });
      assert.equal(res.status, status, `${what}: ${res.status} ${res.text}`);
      assert.ok(res.text.length > 0, `${what}: ${status} carries the reason`);
      if (reason) assert.match(res.text, reason, `${what}: the reason`);
    }
    // Marker through the same intake: it must be the first record for this station.
    const marker = await restCall(gw.adminPort, sid, 'Reset', { type: 'Soft' }, { query: { wait: 'false' }, token: TOKEN, timeoutMs: 5_000 });
    assert.equal(marker.status, 202, marker.text);
    resultIds.push(marker.body.commandId);
    const { records } = await reader.waitFor([iso.topics.commands],
      (recs) => recs.some((r) => r.value?.commandId === marker.body.commandId),
      { from, key: sid, timeoutMs: 15_000, what: `the marker command ${marker.body.commandId}` });
    assert.deepEqual(records.map((r) => r.value?.commandId), [marker.body.commandId], 'nothing but the marker was written to ocpp.commands');
    assertSchema('command', records[0].value, 'REST command record');
    const r = await cmd.waitResult(marker.body.commandId, { timeoutMs: RESULT_WAIT_MS });
    assert.equal(r.status, 'Completed');
    assert.equal(callsOf(st, 'Reset').length, 1);
  }));

  test('no command got a second result', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    assert.ok(resultIds.length > 20, `commands checked: ${resultIds.length}`);
    for (const id of new Set(resultIds)) {
      assert.equal(cmd.resultsFor(id).length, 1, `command ${id}: ${cmd.resultsFor(id).length} results`);
    }
    for (const st of stations) {
      assert.deepEqual(st.strictFailures.map((f) => `${f.method}: ${f.error?.message}`), [], `${st.stationId}: strict-mode validation failures`);
    }
    // The internal route records of this (single) instance: one per command
    // with a commandId, all decided here, targeting this instance or none.
    const routes = await reader.readToEnd([iso.topics.routes]);
    for (const r of routes) {
      const where = `${r.topic}:${r.offset}`;
      assert.equal(r.valueError, null, `${where}: value is not JSON`);
      assertSchema('commandRoute', r.value, where);
      assert.equal(r.value.origin, gw.gatewayId, `${where}: origin`);
      assert.ok(r.value.target === gw.gatewayId || r.value.target === '', `${where}: target ${r.value.target}`);
      assert.equal(r.value.hop, 0, `${where}: hop`);
      assert.equal(r.key, r.value.stationId.toLowerCase(), `${where}: key = lower-case station id`);
    }
    for (const id of new Set(resultIds)) {
      assert.equal(routes.filter((r) => r.value.commandId === id).length, 1, `command ${id}: one route record`);
    }
  }));
});

// A station's Connected record and a command written a moment later can be acknowledged in one
// produce round trip, and the command's fetch can return before this instance has heard that
// acknowledgement. Here the gateway's producer holds every record for a second (linger), so the
// command (written to Kafka by the operator, not through this producer) is always decided first.
describe('a command decided before the Connected record of its station is acknowledged', () => {
  const LINGER_MS = 1000;
  const iso = isolatedCommands();
  let gw;
  let cmd;
  const open = [];
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  before(async () => {
    appendFileSync(iso.configFile, `kafka:\n  batching: linger\n  linger_ms: ${LINGER_MS}\n`);
    gw = await startGateway({ extraArgs: iso.extraArgs });
    cmd = await new CommandClient({ topics: iso.topics }).start();
  });

  after(async () => {
    for (const s of open) s.terminate();
    try {
      if (gw) await gw.stop();
    } finally {
      await cmd?.stop();
      await iso.cleanup();
    }
  });

  test('reaches the station connected here', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    // The operator's producer and the gateway's command intake warmed up first.
    const warm = await cmd.send({ stationId: uniqueStationId('ITNOWHERE'), action: 'ClearCache', payload: {} });
    assertResult(await cmd.waitResult(warm, { timeoutMs: RESULT_WAIT_MS }), { commandId: warm, status: 'NotConnected' });

    const stationId = uniqueStationId('ITUNACKED');
    const s = await RawStation.connect(gw.wsUrl(stationId), ['ocpp1.6']);
    open.push(s);
    const connectedAt = Date.now();
    // Answered by the station's session without Kafka: the session exists.
    s.sendText(JSON.stringify([2, 'probe-1', 'NoSuchAction', {}]));
    const probe = await s.next(10_000, 'CALLERROR of probe-1');
    assert.deepEqual(probe.json.slice(0, 3), [4, 'probe-1', 'NotImplemented']);

    const commandId = await cmd.send({ stationId, action: 'ClearCache', payload: {} });
    const call = await s.next(RESULT_WAIT_MS, 'the ClearCache CALL');
    assert.deepEqual([call.json[0], call.json[2]], [2, 'ClearCache'], call.text);
    s.sendText(JSON.stringify([3, call.json[1], { status: 'Accepted' }]));
    const r = await cmd.waitResult(commandId, { timeoutMs: RESULT_WAIT_MS });
    assertResult(r, { commandId, stationId, action: 'ClearCache', gatewayId: gw.gatewayId, ocppVersion: '1.6', status: 'Completed', response: { status: 'Accepted' } });
    // The case meant: taken before the Connected record could have been written.
    const receivedAt = Date.parse(r.receivedAt);
    assert.ok(receivedAt < connectedAt + LINGER_MS / 2, `the command was taken ${receivedAt - connectedAt} ms after the connection opened`);
    assert.equal(cmd.resultsFor(commandId).length, 1, 'one result');
  }));
});
