// Tolerance profiles over the wire (README "Tolerance profiles"): for each repair the gateway
// knows, the same broken message is refused from a station no profile matches and accepted
// from one a profile matches, and the published event carries the repaired payload (valid
// against the official schema, checked here with ocpp-rpc's own validators), the raw frame
// and the list of repairs. A fault the profile does not allow is still refused, and its
// dead-letter record names the profile. Profiles match by vendor, model and firmware from the
// BootNotification (kept across a reconnection without a boot) or by station id.
//
// The stations are ocpp-rpc clients with strict mode off: they send what firmware sends.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RPCClient } from 'ocpp-rpc';
import WebSocket from 'ws';

import { startGateway, uniqueStationId, withGatewayLog, randomHex, httpGet, GATEWAY_BIN, KAFKA_BROKERS } from '../lib/gateway.mjs';
import { TopicReader, TOPICS } from '../lib/kafka.mjs';
import { assertSchema } from '../lib/schemas.mjs';
import { metricValue } from '../lib/monitor.mjs';
import { restCall } from '../lib/commands.mjs';

const require = createRequire(import.meta.url);
const officialValidators = require('ocpp-rpc/lib/standard-validators.js');

/** Throws with the violations when `payload` breaks the official request schema of `action`. */
function assertOfficial(protocol, action, payload) {
  const validator = officialValidators.find((v) => v.subprotocol === protocol);
  validator.validate(`urn:${action}.req`, payload);
}

const tag = randomHex(4).toUpperCase();
const VENDOR = `ITVendor${tag}`;
const PROFILE = { local: `it-local-${tag}`, depot: `it-depot-${tag}`, v201: `it-v201-${tag}` };
const DEPOT = `ITTOLDEPOT${tag}`;
const V201 = `ITTOL201${tag}`;

async function openStation(port, identity, protocol) {
  const client = new RPCClient({
    endpoint: `ws://127.0.0.1:${port}/ocpp`, identity, protocols: [protocol],
    strictMode: false, reconnect: false, callTimeoutMs: 15_000, pingIntervalMs: 0,
  });
  await client.connect();
  return client;
}

/** The CALLERROR code of a call that must be refused. */
async function refusedWith(client, action, payload) {
  try {
    const reply = await client.call(action, payload);
    assert.fail(`${action} was answered ${JSON.stringify(reply)}; a CALLERROR was expected`);
  } catch (err) {
    if (err.rpcErrorCode === undefined) throw err;
    return err.rpcErrorCode;
  }
}

const hoursAgoLocal = (hours, offsetHours) => {
  // "YYYY-MM-DDTHH:MM:SS" in a clock `offsetHours` east of UTC, without the offset.
  const t = new Date(Date.now() - hours * 3_600_000 + offsetHours * 3_600_000);
  return t.toISOString().slice(0, 19);
};

describe('tolerance profiles', () => {
  let gw;
  let dir;
  let reader;
  let from;
  const stations = [];
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);
  const open = async (identity, protocol = 'ocpp1.6') => {
    const client = await openStation(gw.port, identity, protocol);
    stations.push(client);
    return client;
  };
  const boot = (client, model, firmware) => client.call('BootNotification',
    { chargePointVendor: VENDOR, chargePointModel: model, firmwareVersion: firmware });
  /** The station event of `messageId` on `topic`. */
  const eventOf = async (topic, stationId, action, predicate = () => true) => {
    const { result } = await reader.waitFor([topic],
      (recs) => recs.find((r) => r.value?.action === action && predicate(r.value)),
      { from, key: stationId, what: `${action} of ${stationId} on ${topic}` });
    assertSchema('stationEvent', result.value, `${action} of ${stationId}`);
    return result;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ocpp-tolerance-'));
    const configFile = join(dir, 'gateway.yaml');
    writeFileSync(configFile, [
      'tolerance:',
      '  profiles:',
      `    - name: ${PROFILE.local}`,
      `      match: {vendor: "${VENDOR.toLowerCase()}", model: "Old*", firmware: "1.*"}`,
      '      allow: [timestamp-without-offset, enum-case]',
      '      assume_offset: "+01:00"',
      `    - name: ${PROFILE.depot}`,
      `      match: {id: "${DEPOT}-*"}`,
      '      allow: [unknown-properties, number-as-string, string-as-number, empty-optional]',
      `    - name: ${PROFILE.v201}`,
      `      match: {id: "${V201}-*"}`,
      '      allow: [enum-case, unknown-properties]',
      '',
    ].join('\n'));
    gw = await startGateway({ extraArgs: ['--config', configFile] });
    reader = await new TopicReader().connect();
    from = await reader.snapshot([TOPICS.status, TOPICS.meterValues, TOPICS.heartbeats, TOPICS.deadLetter]);
  });

  after(async () => {
    for (const s of stations) await s.close({ force: true }).catch(() => {});
    await gw?.stop();
    await reader?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a timestamp without offset and enum spellings: refused strict, repaired for the matching model', logOnFailure(async () => {
    const strictId = uniqueStationId('ITTOLSTRICT');
    const oldId = uniqueStationId('ITTOLOLD');
    const newId = uniqueStationId('ITTOLNEW');
    const strict = await open(strictId);
    const old = await open(oldId);
    const newer = await open(newId);
    await strict.call('BootNotification', { chargePointVendor: 'OtherVendor', chargePointModel: 'OldCharger', firmwareVersion: '1.4' });
    await boot(old, 'OldCharger', '1.4.2');
    await boot(newer, 'OldCharger', '2.0');    // firmware outside the profile: strict

    const local = hoursAgoLocal(1, 1);
    const meter = { connectorId: 1, meterValue: [{ timestamp: local,
      sampledValue: [{ value: '1234.5', unit: 'KWH', measurand: 'energy_active_import_register' }] }] };
    const status = { connectorId: 1, errorCode: 'no_error', status: 'CHARGING' };
    const SCHEMA_CODES = ['TypeConstraintViolation', 'FormationViolation', 'PropertyConstraintViolation', 'OccurenceConstraintViolation'];
    for (const client of [strict, newer]) {
      assert.ok(SCHEMA_CODES.includes(await refusedWith(client, 'MeterValues', meter)));
      assert.equal(await refusedWith(client, 'StatusNotification', status), 'PropertyConstraintViolation');
    }
    assert.deepEqual(await old.call('MeterValues', meter), {});
    assert.deepEqual(await old.call('StatusNotification', status), {});

    const m = await eventOf(TOPICS.meterValues, oldId, 'MeterValues');
    assertOfficial('ocpp1.6', 'MeterValues', m.value.payload);
    const utc = new Date(Date.parse(`${local}+01:00`)).toISOString().replace('.000Z', 'Z');
    assert.equal(m.value.payload.meterValue[0].timestamp, utc);
    assert.deepEqual(m.value.payload.meterValue[0].sampledValue[0],
      { value: '1234.5', unit: 'kWh', measurand: 'Energy.Active.Import.Register' });
    assert.equal(m.value.tolerance.profile, PROFILE.local);
    assert.deepEqual(JSON.parse(m.value.tolerance.raw)[3], meter);
    assert.deepEqual(m.value.tolerance.repairs, [
      { rule: 'enum-case', path: '/meterValue/0/sampledValue/0/measurand', from: 'energy_active_import_register', to: 'Energy.Active.Import.Register' },
      { rule: 'enum-case', path: '/meterValue/0/sampledValue/0/unit', from: 'KWH', to: 'kWh' },
      { rule: 'timestamp-without-offset', path: '/meterValue/0/timestamp', from: local, to: utc },
    ]);
    assert.equal(m.headers['ocpp-tolerance'], PROFILE.local);

    const s = await eventOf(TOPICS.status, oldId, 'StatusNotification');
    assertOfficial('ocpp1.6', 'StatusNotification', s.value.payload);
    assert.equal(s.value.payload.status, 'Charging');
    assert.equal(s.value.payload.errorCode, 'NoError');

    // Nothing of the refused stations was published; both were dead-lettered without a profile.
    const { records } = await reader.waitFor([TOPICS.deadLetter],
      (recs) => recs.filter((r) => r.key === strictId || r.key === newId).length >= 4 ? recs : null,
      { from, what: 'dead letters of the strict stations' });
    for (const r of records.filter((x) => x.key === strictId || x.key === newId)) {
      assertSchema('deadLetter', r.value, `dead letter of ${r.key}`);
      assert.equal(r.value.toleranceProfile, undefined);
    }
    const newerLetter = records.find((r) => r.key === newId);
    assert.deepEqual(newerLetter.value.stationModel, { vendor: VENDOR, model: 'OldCharger', firmware: '2.0' });
  }));

  test('a station reconnecting without a boot keeps its profile', logOnFailure(async () => {
    const id = uniqueStationId('ITTOLRECON');
    const first = await open(id);
    await boot(first, 'OldCharger', '1.0');
    await first.close();
    const second = await open(id);
    const status = { connectorId: 2, errorCode: 'NoError', status: 'finishing' };
    assert.deepEqual(await second.call('StatusNotification', status), {});
    const s = await eventOf(TOPICS.status, id, 'StatusNotification', (v) => v.payload.connectorId === 2);
    assert.equal(s.value.payload.status, 'Finishing');
    assert.equal(s.value.tolerance.profile, PROFILE.local);
  }));

  test('profiles matched by id: unknown properties, numbers, strings and empty optionals', logOnFailure(async () => {
    const strictId = uniqueStationId('ITTOLPLAIN');
    const depotId = `${DEPOT}-${randomHex(3)}`;
    const strict = await open(strictId);
    const depot = await open(depotId);
    const cases = [
      { rule: 'unknown-properties', action: 'StatusNotification', topic: TOPICS.status,
        payload: { connectorId: 3, errorCode: 'NoError', status: 'Available', vendorUptime: 1234 },
        repairs: [{ rule: 'unknown-properties', path: '/vendorUptime', from: 1234 }] },
      { rule: 'number-as-string', action: 'StatusNotification', topic: TOPICS.status,
        payload: { connectorId: '4', errorCode: 'NoError', status: 'Available' },
        repairs: [{ rule: 'number-as-string', path: '/connectorId', from: '4', to: 4 }] },
      { rule: 'string-as-number', action: 'MeterValues', topic: TOPICS.meterValues,
        payload: { connectorId: 5, meterValue: [{ timestamp: new Date().toISOString(), sampledValue: [{ value: 17.25 }] }] },
        repairs: [{ rule: 'string-as-number', path: '/meterValue/0/sampledValue/0/value', from: 17.25, to: '17.25' }] },
      { rule: 'empty-optional', action: 'StatusNotification', topic: TOPICS.status,
        payload: { connectorId: 6, errorCode: 'NoError', status: 'Available', timestamp: '' },
        repairs: [{ rule: 'empty-optional', path: '/timestamp', from: '' }] },
    ];
    for (const c of cases) {
      const code = await refusedWith(strict, c.action, c.payload);
      assert.ok(['TypeConstraintViolation', 'FormationViolation', 'PropertyConstraintViolation'].includes(code), `${c.rule}: ${code}`);
      assert.deepEqual(await depot.call(c.action, c.payload), {}, c.rule);
      const connector = typeof c.payload.connectorId === 'string' ? Number(c.payload.connectorId) : c.payload.connectorId;
      const e = await eventOf(c.topic, depotId, c.action, (v) => v.payload.connectorId === connector);
      assertOfficial('ocpp1.6', c.action, e.value.payload);
      assert.equal(e.value.tolerance.profile, PROFILE.depot, c.rule);
      assert.deepEqual(e.value.tolerance.repairs, c.repairs, c.rule);
      assert.deepEqual(JSON.parse(e.value.tolerance.raw)[3], c.payload, c.rule);
    }
  }));

  test('a fault the profile does not allow is refused, and the dead letter names the profile', logOnFailure(async () => {
    const depotId = `${DEPOT}-${randomHex(3)}`;
    const depot = await open(depotId);
    const payload = { connectorId: 7, errorCode: 'NoError', status: 'Available', timestamp: hoursAgoLocal(0, 0) };
    assert.equal(await refusedWith(depot, 'StatusNotification', payload), 'FormationViolation');
    const { result } = await reader.waitFor([TOPICS.deadLetter], (recs) => recs.find((r) => r.key === depotId),
      { from, what: `dead letter of ${depotId}` });
    assertSchema('deadLetter', result.value, 'dead letter under a profile');
    assert.equal(result.value.toleranceProfile, PROFILE.depot);
    assert.equal(result.value.errorCode, 'FormationViolation');
    assert.deepEqual(JSON.parse(result.value.raw)[3], payload);
  }));

  test('OCPP 2.0.1: nested objects are repaired through their definitions', logOnFailure(async () => {
    const id = `${V201}-${randomHex(3)}`;
    const station = await open(id, 'ocpp2.0.1');
    const strict = await open(uniqueStationId('ITTOL201S'), 'ocpp2.0.1');
    const payload = { timestamp: new Date().toISOString(), connectorStatus: 'available', evseId: 1, connectorId: 1,
      customData: { vendorId: 'x', anything: 1 }, colour: 'green' };
    assert.equal(await refusedWith(strict, 'StatusNotification', payload), 'PropertyConstraintViolation');
    assert.deepEqual(await station.call('StatusNotification', payload), {});
    const e = await eventOf(TOPICS.status, id, 'StatusNotification');
    assertOfficial('ocpp2.0.1', 'StatusNotification', e.value.payload);
    assert.equal(e.value.payload.connectorStatus, 'Available');
    assert.equal(e.value.payload.colour, undefined);
    assert.deepEqual(e.value.payload.customData, { vendorId: 'x', anything: 1 });  // customData is open
    assert.deepEqual(e.value.tolerance.repairs.map((r) => r.rule).sort(), ['enum-case', 'unknown-properties']);
  }));

  test("a command's invalid answer is reported as sent, with what the profile's repairs make of it", logOnFailure(async () => {
    const id = uniqueStationId('ITTOLCMD');
    const station = await open(id);
    station.handle('ChangeConfiguration', () => ({ status: 'accepted' }));
    await boot(station, 'OldCharger', '1.9');
    const r = await restCall(gw.adminPort, id, 'ChangeConfiguration', { key: 'HeartbeatInterval', value: '60' }, { timeoutMs: 20_000 });
    assert.equal(r.status, 200, r.text);
    assertSchema('commandResult', r.body, 'command result with responseRepairs');
    assert.equal(r.body.status, 'Completed');
    assert.deepEqual(r.body.response, { status: 'accepted' });
    assert.ok(r.body.responseViolations.length >= 1);
    assert.deepEqual(r.body.responseRepairs, {
      profile: PROFILE.local,
      repairs: [{ rule: 'enum-case', path: '/status', from: 'accepted', to: 'Accepted' }],
      repaired: { status: 'Accepted' },
      valid: true,
    });
  }));

  test('OCPP 2.1: a SEND is repaired as a CALL is, and never answered', logOnFailure(async () => {
    const id = `${DEPOT}-SEND${randomHex(2).toUpperCase()}`;
    const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/ocpp/${id}`, ['ocpp2.1']);
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    const answers = [];
    ws.on('message', (m) => answers.push(m.toString()));
    try {
      // An extra property the 2.1 schema refuses: the depot profile allows dropping it.
      const payload = { id: 5, pending: 0, basetime: new Date().toISOString(), data: [{ t: 0, v: '11.02' }], vendorNote: 'x' };
      ws.send(JSON.stringify([6, 'send-tol', 'NotifyPeriodicEventStream', payload]));
      const event = await eventOf(TOPICS.meterValues, id, 'NotifyPeriodicEventStream', (v) => v.messageId === 'send-tol');
      assert.equal(event.value.messageType, 'SEND');
      assert.equal(event.value.tolerance?.profile, PROFILE.depot);
      assert.deepEqual(event.value.tolerance.repairs.map((r) => r.rule), ['unknown-properties']);
      assert.equal('vendorNote' in event.value.payload, false);
      assert.deepEqual(answers, [], 'a SEND is never answered');
    } finally {
      ws.terminate();
    }
  }));

  test('repairs are counted per profile and rule', logOnFailure(async () => {
    const text = (await httpGet(gw.adminUrl('/metrics'))).text;
    assert.ok(metricValue(text, 'ocpp_tolerance_repairs_total', { profile: PROFILE.local, rule: 'enum-case' }) >= 4);
    assert.ok(metricValue(text, 'ocpp_tolerance_repairs_total', { profile: PROFILE.local, rule: 'timestamp-without-offset' }) >= 1);
    assert.equal(metricValue(text, 'ocpp_tolerance_repairs_total', { profile: PROFILE.depot, rule: 'empty-optional' }), 1);
    assert.equal(metricValue(text, 'ocpp_tolerance_refused_total', { profile: PROFILE.depot }), 1);
  }));
});

describe('learning what a fleet needs: violation counts, reports and tolerance suggest', () => {
  const fleetTag = randomHex(4);
  const deadLetter = `it-tol-${fleetTag}.dead-letter`;
  const violations = `it-tol-${fleetTag}.schema-violations`;
  const vendors = { a: `ITFleetA${fleetTag}`, b: `ITFleetB${fleetTag}`, c: `ITFleetC${fleetTag}` };
  // Three models: local timestamps and lower-case enums (repairable), connector ids as strings
  // (repairable), a required field missing (no repair helps).
  const fleet = [
    ...[0, 1, 2].map((i) => ({ vendor: vendors.a, model: 'Alpha', firmware: `1.${i}`, id: uniqueStationId('ITFLA') })),
    ...[0, 1].map(() => ({ vendor: vendors.b, model: 'Beta', firmware: '7', id: uniqueStationId('ITFLB') })),
    { vendor: vendors.c, model: 'Gamma', firmware: '0.1', id: uniqueStationId('ITFLC') },
  ];
  const messagesOf = (station) => {
    if (station.vendor === vendors.a) {
      return [
        ['MeterValues', { connectorId: 1, meterValue: [{ timestamp: hoursAgoLocal(0, 0), sampledValue: [{ value: '5', unit: 'kwh' }] }] }],
        ['StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'available' }],
      ];
    }
    if (station.vendor === vendors.b) return [['StatusNotification', { connectorId: '2', errorCode: 'NoError', status: 'Available' }]];
    return [['StatusNotification', { connectorId: 1, errorCode: 'NoError' }]];
  };
  let dir;
  let configFile;
  let strictGw;
  let tolerantGw;
  const clients = [];
  const logOnFailure = (fn) => withGatewayLog(() => tolerantGw ?? strictGw, fn);

  /** Connects the whole fleet to `gw`, boots it and sends every station's messages. */
  const runFleet = async (gw) => {
    const outcomes = [];
    for (const s of fleet) {
      const client = await openStation(gw.port, s.id, 'ocpp1.6');
      clients.push(client);
      await client.call('BootNotification', { chargePointVendor: s.vendor, chargePointModel: s.model, firmwareVersion: s.firmware });
      for (const [action, payload] of messagesOf(s)) {
        try {
          await client.call(action, payload);
          outcomes.push({ station: s, action, accepted: true });
        } catch (err) {
          if (err.rpcErrorCode === undefined) throw err;
          outcomes.push({ station: s, action, accepted: false, code: err.rpcErrorCode });
        }
      }
      await client.close();
    }
    return outcomes;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ocpp-tolerance-fleet-'));
    configFile = join(dir, 'gateway.yaml');
    writeFileSync(configFile, `topics:\n  dead_letter: ${deadLetter}\n  violations: ${violations}\ntolerance:\n  report_interval_s: 1\n`);
    strictGw = await startGateway({ extraArgs: ['--config', configFile] });
  });

  after(async () => {
    for (const c of clients) await c.close({ force: true }).catch(() => {});
    await strictGw?.stop();
    await tolerantGw?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a strict gateway refuses the fleet and counts the violations per model', logOnFailure(async () => {
    const outcomes = await runFleet(strictGw);
    assert.deepEqual(outcomes.filter((o) => o.accepted), []);
    const text = (await httpGet(strictGw.adminUrl('/metrics'))).text;
    const count = (vendor, model, kind) => metricValue(text, 'ocpp_schema_violations_total', { vendor, model, kind });
    assert.equal(count(vendors.a, 'Alpha', 'enum-case'), 6);
    assert.equal(count(vendors.a, 'Alpha', 'timestamp-without-offset'), 3);
    assert.equal(count(vendors.a, 'Alpha', 'unrepairable'), null);
    assert.equal(count(vendors.b, 'Beta', 'number-as-string'), 2);
    assert.equal(count(vendors.c, 'Gamma', 'unrepairable'), 1);

    // The same per model on the violations topic, summed over the one-second reports.
    const reader = await new TopicReader().connect();
    const sums = {};
    try {
      await reader.waitFor([violations], (recs) => {
        for (const k of Object.keys(sums)) delete sums[k];
        for (const r of recs) {
          assertSchema('schemaViolations', r.value, `report ${r.key}`);
          assert.equal(r.key, `${r.value.vendor}/${r.value.model}`);
          const sum = (sums[r.key] ??= { refused: 0, repairable: 0, kinds: {}, firmware: new Set() });
          sum.refused += r.value.refused;
          sum.repairable += r.value.repairable;
          for (const [k, n] of Object.entries(r.value.kinds)) sum.kinds[k] = (sum.kinds[k] ?? 0) + n;
          for (const f of r.value.firmware) sum.firmware.add(f);
        }
        const total = Object.values(sums).reduce((n, x) => n + x.refused, 0);
        return total >= 9 || null;
      }, { what: `9 refusals reported on ${violations}` });
    } finally {
      await reader.close();
    }
    assert.deepEqual(Object.keys(sums).sort(), [`${vendors.a}/Alpha`, `${vendors.b}/Beta`, `${vendors.c}/Gamma`]);
    const a = sums[`${vendors.a}/Alpha`];
    assert.deepEqual({ refused: a.refused, repairable: a.repairable, kinds: a.kinds, firmware: [...a.firmware].sort() },
      { refused: 6, repairable: 6, kinds: { 'enum-case': 6, 'timestamp-without-offset': 3 }, firmware: ['1.0', '1.1', '1.2'] });
    const b = sums[`${vendors.b}/Beta`];
    assert.deepEqual({ refused: b.refused, repairable: b.repairable, kinds: b.kinds }, { refused: 2, repairable: 2, kinds: { 'number-as-string': 2 } });
    const c = sums[`${vendors.c}/Gamma`];
    assert.deepEqual({ refused: c.refused, repairable: c.repairable, kinds: c.kinds }, { refused: 1, repairable: 0, kinds: { unrepairable: 1 } });
  }));

  test('tolerance suggest reads the dead letters and proposes a profile per repairable model', logOnFailure(async () => {
    // The station has its CALLERROR before its dead letter is stored: wait for all nine.
    const reader = await new TopicReader().connect();
    try {
      await reader.waitFor([deadLetter], (recs) => recs.length >= 9 || null, { what: `9 dead letters on ${deadLetter}` });
    } finally {
      await reader.close();
    }
    const { stdout } = await promisify(execFile)(GATEWAY_BIN,
      ['tolerance', 'suggest', '--config', configFile, '--kafka-brokers', KAFKA_BROKERS], { timeout: 60_000 });
    assert.match(stdout, new RegExp(`^# 9 schema refusals read from ${deadLetter.replace(/\./g, '\\.')}\\.$`, 'm'));
    assert.match(stdout, new RegExp(`match: \\{vendor: "${vendors.a}", model: "Alpha"\\}\\n      allow: \\[enum-case, timestamp-without-offset\\]`));
    assert.match(stdout, new RegExp(`match: \\{vendor: "${vendors.b}", model: "Beta"\\}\\n      allow: \\[number-as-string\\]`));
    assert.match(stdout, new RegExp(`# "${vendors.c}" "Gamma" \\(firmware "0\\.1"; 1 station\\(s\\)\\): 1 refused, 0 repairable`));
    assert.doesNotMatch(stdout, /model: "Gamma"/);

    // The suggestion, pasted into the configuration, lets the same fleet in.
    writeFileSync(configFile, `topics:\n  dead_letter: ${deadLetter}\n  violations: ${violations}\n${stdout}`);
    await strictGw.stop();
    strictGw = null;
    tolerantGw = await startGateway({ extraArgs: ['--config', configFile] });
    const outcomes = await runFleet(tolerantGw);
    const summary = outcomes.map((o) => `${o.station.vendor}/${o.action}:${o.accepted}`);
    assert.deepEqual(outcomes.filter((o) => o.station.vendor !== vendors.c && !o.accepted), [], summary.join(' '));
    assert.deepEqual(outcomes.filter((o) => o.station.vendor === vendors.c).map((o) => o.accepted), [false]);
  }));
});
