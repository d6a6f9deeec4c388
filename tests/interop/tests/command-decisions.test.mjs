// One decision per command, whatever the consumer group does.
//
// ocpp.commands is read by a consumer group; when partitions move between
// instances (an instance starts, stops or dies), the new owner re-reads the
// records the old one had read but not yet committed and decides them again.
// Both decisions land on ocpp.command-routes (same key, same partition); the
// first one is the decision every instance follows and the later one is
// ignored. These tests write the second owner's route record themselves, so
// the race that a rebalance produces by chance happens on every run:
//
// a. The owner holds the station itself and delivered the command; a second
//    owner's route for the same command arrives afterwards: the station sees
//    one CALL, the command has one result.
// b. Another owner's route arrives first (it decided before this gateway read
//    the command): this gateway executes it; the command record it reads
//    afterwards is known and does not run again.
// c. A decision made at intake (here: NotConnected) whose origin went away
//    before writing the result: after the instance timeout the live instance
//    writes the decided result, once.
// d. The only instance is killed (SIGKILL) while its station holds a command
//    it has not answered, and started again under the same gatewayId: nobody
//    watched the command from before it was routed, so the new run, which
//    read the route back at start-up, ends it NotConnected
//    (GatewayUnavailable, sent: true), once.
// e. Two instances claim to end a decision whose writer went away (their
//    views of who is alive differed), and both go away too: the first claim
//    stands, and the live instance writes its result, once.
// f. A decision's target looked gone and another instance claimed to end
//    the command; the target, alive after all, re-routes it because the
//    station moved: the re-route is not taken, the command is not delivered,
//    and it ends with the claim's result, once.
// g. The same for a claim read ten minutes after the command's deadline,
//    whose claimer is alive when it is read and then goes away: the claim
//    is watched all the same, and the live instance claims it again.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';

import { startGateway, uniqueStationId, withGatewayLog } from '../lib/gateway.mjs';
import { TopicReader } from '../lib/kafka.mjs';
import {
  CommandClient, isolatedCommands, assertResult, connectStation, waitPresence, callsOf, closeStations, nextCall,
} from '../lib/commands.mjs';

const RESULT_WAIT_MS = 20_000;
const TEST_TIMEOUT_MS = 60_000;
const INSTANCE_TIMEOUT_MS = 3_000;
// Observation window after the first result: a second result or CALL would
// have had this long to appear (not used for synchronisation).
const OBSERVE_MS = 3_000;

const delay = (ms) => new Promise((r) => setTimeout(r, ms));
const gatewayArgs = (iso) => [...iso.extraArgs, '--instance-timeout-ms', String(INSTANCE_TIMEOUT_MS)];

/** A route record as another instance would write it (schemas/events/command-route.schema.json). */
function routeRecord({ commandId, stationId, action, payload, target, origin, result, hop = 0, ends }) {
  const now = Date.now();
  const r = {
    commandId, stationId, action, payload,
    timeoutMs: 20_000,
    expiresAt: new Date(now + 60_000).toISOString(),
    receivedAt: new Date(now).toISOString(),
    target, origin, hop,
  };
  if (result) r.result = result;
  if (ends) r.ends = ends;
  return r;
}

/** A result record as instance `gatewayId` would decide it: NotConnected, with `description`. */
function notConnected({ commandId, stationId, gatewayId, code, description }) {
  const now = new Date().toISOString();
  return {
    commandId, stationId, action: 'Reset', status: 'NotConnected', sent: code === 'GatewayUnavailable',
    error: { code, description }, gatewayId, receivedAt: now, completedAt: now,
  };
}

describe('one decision per command', () => {
  let gw;
  const iso = isolatedCommands();
  let cmd;
  let reader;
  const stations = [];
  const settled = [];  // commands of cases a-c: one result each, also after case d's restart
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  async function newStation(prefix, handlers) {
    const stationId = uniqueStationId(prefix);
    const client = await connectStation({ port: gw.port, stationId, protocol: 'ocpp1.6', handlers });
    stations.push(client);
    client.stationId = stationId;
    await waitPresence(gw.adminPort, stationId);
    return client;
  }

  const sendRoute = (route) => cmd.produce(iso.topics.routes, route.stationId.toLowerCase(), JSON.stringify(route));

  before(async () => {
    gw = await startGateway({ extraArgs: gatewayArgs(iso) });
    cmd = await new CommandClient({ topics: iso.topics }).start();
    reader = await new TopicReader().connect();
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

  test('a: a second owner\'s route after the command ran here: one CALL, one result', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const st = await newStation('ITDEC', { Reset: () => ({ status: 'Accepted' }) });
    const commandId = `it-dec-${randomUUID()}`;
    const command = { commandId, stationId: st.stationId, action: 'Reset', payload: { type: 'Soft' } };
    await cmd.send(command);
    const r = await cmd.waitResult(commandId, { timeoutMs: RESULT_WAIT_MS });
    assertResult(r, { commandId, stationId: st.stationId, action: 'Reset', gatewayId: gw.gatewayId, ocppVersion: '1.6', status: 'Completed', sent: true, response: { status: 'Accepted' } });
    // The owner that took the partition over decided the same record again.
    await sendRoute(routeRecord({ ...command, target: gw.gatewayId, origin: 'it-second-owner' }));
    // A marker behind it on the same route partition: once it ran, the
    // second route has been read.
    const markerId = await cmd.send({ stationId: st.stationId, action: 'Reset', payload: { type: 'Hard' } });
    const m = await cmd.waitResult(markerId, { timeoutMs: RESULT_WAIT_MS });
    assert.equal(m.status, 'Completed');
    await delay(OBSERVE_MS);
    assert.deepEqual(callsOf(st, 'Reset').map((c) => c.params.type), ['Soft', 'Hard'], 'the command reached the station once, then the marker');
    assert.equal(cmd.resultsFor(commandId).length, 1, `results: ${JSON.stringify(cmd.resultsFor(commandId).map((x) => x.value))}`);
    settled.push(commandId, markerId);
  }));

  test('b: another owner\'s route that landed first is the decision; the command record read later does not run again', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const st = await newStation('ITDEC', { Reset: () => ({ status: 'Accepted' }) });
    const commandId = `it-dec-${randomUUID()}`;
    const command = { commandId, stationId: st.stationId, action: 'Reset', payload: { type: 'Soft' } };
    await sendRoute(routeRecord({ ...command, target: gw.gatewayId, origin: 'it-first-owner' }));
    const r = await cmd.waitResult(commandId, { timeoutMs: RESULT_WAIT_MS });
    assert.equal(r.status, 'Completed');
    // The command record itself, read by this gateway's intake afterwards.
    await cmd.send(command);
    const markerId = await cmd.send({ stationId: st.stationId, action: 'Reset', payload: { type: 'Hard' } });
    assert.equal((await cmd.waitResult(markerId, { timeoutMs: RESULT_WAIT_MS })).status, 'Completed');
    await delay(OBSERVE_MS);
    assert.deepEqual(callsOf(st, 'Reset').map((c) => c.params.type), ['Soft', 'Hard']);
    assert.equal(cmd.resultsFor(commandId).length, 1, `results: ${JSON.stringify(cmd.resultsFor(commandId).map((x) => x.value))}`);
    settled.push(commandId, markerId);
  }));

  test('c: a result decided at intake by an instance that went away is written once by a live one', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const stationId = uniqueStationId('ITDECGONE');
    const commandId = `it-dec-${randomUUID()}`;
    const now = new Date().toISOString();
    const decided = {
      commandId, stationId, action: 'Reset', status: 'NotConnected', sent: false,
      error: { code: 'StationNotConnected', description: 'the station is not connected to any gateway instance' },
      gatewayId: 'it-gone-owner', receivedAt: now, completedAt: now,
    };
    const sentAt = Date.now();
    await sendRoute(routeRecord({ commandId, stationId, action: 'Reset', payload: { type: 'Soft' }, target: '', origin: 'it-gone-owner', result: decided }));
    const r = await cmd.waitResult(commandId, { timeoutMs: RESULT_WAIT_MS });
    const tookMs = Date.now() - sentAt;
    assertResult(r, { commandId, stationId, action: 'Reset', status: 'NotConnected', sent: false, gatewayId: gw.gatewayId });
    assert.deepEqual(r.error, decided.error, 'the decided outcome, not a new one');
    assert.ok(tookMs >= INSTANCE_TIMEOUT_MS, `written after ${tookMs} ms, before the origin could be known gone`);
    await delay(OBSERVE_MS);
    assert.equal(cmd.resultsFor(commandId).length, 1);
    settled.push(commandId);
  }));

  test('e: of two claims to end a decision whose writer went away, the first stands, also when its claimer went away too', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const stationId = uniqueStationId('ITDECCLAIM');
    const commandId = `it-dec-${randomUUID()}`;
    const base = { commandId, stationId, action: 'Reset', payload: { type: 'Soft' }, target: '' };
    const claimed = (gatewayId, description) => notConnected({ commandId, stationId, gatewayId, code: 'GatewayUnavailable', description });
    const sentAt = Date.now();
    await sendRoute(routeRecord({ ...base, origin: 'it-gone-owner', result: notConnected({ commandId, stationId, gatewayId: 'it-gone-owner', code: 'StationNotConnected', description: 'decided' }) }));
    // Two instances, each seeing the owner gone and itself as the one to write; both went away
    // before writing. The first claim is the one the live instance carries on.
    await sendRoute(routeRecord({ ...base, origin: 'it-gone-claimer-1', ends: 1, result: claimed('it-gone-claimer-1', 'first claim') }));
    await sendRoute(routeRecord({ ...base, origin: 'it-gone-claimer-2', ends: 1, result: claimed('it-gone-claimer-2', 'second claim') }));
    const r = await cmd.waitResult(commandId, { timeoutMs: RESULT_WAIT_MS });
    const tookMs = Date.now() - sentAt;
    assertResult(r, { commandId, stationId, action: 'Reset', status: 'NotConnected', sent: true, gatewayId: gw.gatewayId });
    assert.deepEqual(r.error, { code: 'GatewayUnavailable', description: 'first claim' }, 'the first claim\'s result');
    assert.ok(tookMs >= INSTANCE_TIMEOUT_MS, `written after ${tookMs} ms, before the first claimer could be known gone`);
    await delay(OBSERVE_MS);
    assert.equal(cmd.resultsFor(commandId).length, 1);
    settled.push(commandId);
  }));

  test('f: a re-route that arrives after another instance claimed to end the decision is not delivered', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const st = await newStation('ITDECLATE', { Reset: () => ({ status: 'Accepted' }) });
    const commandId = `it-dec-${randomUUID()}`;
    const command = { commandId, stationId: st.stationId, action: 'Reset', payload: { type: 'Soft' } };
    // Routed to an instance that looked gone; another claimed to end it; then the first one,
    // alive after all, re-routes the command here because the station moved.
    await sendRoute(routeRecord({ ...command, target: 'it-slow-target', origin: 'it-owner' }));
    const claim = notConnected({ commandId, stationId: st.stationId, gatewayId: 'it-claimer', code: 'GatewayUnavailable', description: 'claimed' });
    await sendRoute(routeRecord({ ...command, target: '', origin: 'it-claimer', ends: 1, result: claim }));
    await sendRoute(routeRecord({ ...command, target: gw.gatewayId, origin: 'it-slow-target', hop: 1 }));
    // A marker behind them on the same route partition: once it ran, the re-route was read.
    const markerId = await cmd.send({ stationId: st.stationId, action: 'Reset', payload: { type: 'Hard' } });
    const m = await cmd.waitResult(markerId, { timeoutMs: RESULT_WAIT_MS });
    assert.equal(m.status, 'Completed');
    assert.deepEqual(callsOf(st, 'Reset').map((c) => c.params.type), ['Hard'], 'the re-routed command reached the station');
    // The claimer never writes (it is no instance): the live one ends the command, once.
    const r = await cmd.waitResult(commandId, { timeoutMs: RESULT_WAIT_MS });
    assertResult(r, { commandId, stationId: st.stationId, action: 'Reset', status: 'NotConnected', gatewayId: gw.gatewayId });
    assert.deepEqual(r.error, claim.error);
    await delay(OBSERVE_MS);
    assert.equal(cmd.resultsFor(commandId).length, 1);
    assert.deepEqual(callsOf(st, 'Reset').map((c) => c.params.type), ['Hard']);
    settled.push(commandId, markerId);
  }));

  test('g: a claim long past the command\'s deadline whose claimer goes away before writing is claimed again', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const stationId = uniqueStationId('ITDECLATECLAIM');
    const commandId = `it-dec-${randomUUID()}`;
    const claimer = `it-claimer-${randomUUID().slice(0, 8)}`;
    const run = Date.now();
    // The claimer is alive when its claim is read: one liveness record, then silence.
    await cmd.produce(iso.topics.presence, `gateway:${claimer}`,
      JSON.stringify({ kind: 'gateway', gatewayId: claimer, state: 'Alive', at: new Date().toISOString(), run }));
    const base = { commandId, stationId, action: 'Reset', payload: { type: 'Soft' }, target: '' };
    const late = (route) => ({ ...route, expiresAt: new Date(Date.now() - 10 * 60_000).toISOString() });
    const claim = notConnected({ commandId, stationId, gatewayId: claimer, code: 'GatewayUnavailable', description: 'claimed late' });
    const sentAt = Date.now();
    await sendRoute(late(routeRecord({ ...base, origin: 'it-gone-owner', result: notConnected({ commandId, stationId, gatewayId: 'it-gone-owner', code: 'StationNotConnected', description: 'decided' }) })));
    await sendRoute({ ...late(routeRecord({ ...base, origin: claimer, ends: 1, result: claim })), originRun: run });
    const r = await cmd.waitResult(commandId, { timeoutMs: RESULT_WAIT_MS });
    const tookMs = Date.now() - sentAt;
    assertResult(r, { commandId, stationId, action: 'Reset', status: 'NotConnected', gatewayId: gw.gatewayId });
    assert.deepEqual(r.error, claim.error, 'the claim\'s result');
    assert.ok(tookMs >= INSTANCE_TIMEOUT_MS, `written after ${tookMs} ms, before the claimer could be known gone`);
    await delay(OBSERVE_MS);
    assert.equal(cmd.resultsFor(commandId).length, 1);
    settled.push(commandId);
  }));

  // Last: it replaces the gateway of the tests above with a second run of it.
  test('d: the only instance killed with a command outstanding ends it once it runs again', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async (t) => {
    // The station takes the Reset and never answers it.
    const st = await newStation('ITDECKILL', { Reset: () => new Promise(() => {}) });
    const commandId = `it-dec-${randomUUID()}`;
    await cmd.send({ commandId, stationId: st.stationId, action: 'Reset', payload: { type: 'Soft' }, timeoutMs: 120_000 });
    await nextCall(st, (c) => c.action === 'Reset', { what: 'the Reset at the station' });
    const { gatewayId } = gw;
    gw.child.kill('SIGKILL');
    await gw.exited;
    const restartedAt = Date.now();
    gw = await startGateway({ gatewayId, extraArgs: gatewayArgs(iso) });
    const r = await cmd.waitResult(commandId, { timeoutMs: RESULT_WAIT_MS });
    t.diagnostic(`ended ${Date.now() - restartedAt} ms after the restart began`);
    assertResult(r, { commandId, stationId: st.stationId, action: 'Reset', status: 'NotConnected', sent: true, gatewayId });
    assert.equal(r.error?.code, 'GatewayUnavailable', JSON.stringify(r.error));
    await delay(OBSERVE_MS);
    assert.equal(cmd.resultsFor(commandId).length, 1, `results: ${JSON.stringify(cmd.resultsFor(commandId).map((x) => x.value))}`);
    // The new run read the earlier commands' routes back too, with their results: none of
    // them is ended a second time.
    assert.ok(settled.length >= 5, `the earlier cases settled ${settled.length} commands`);
    for (const id of settled) {
      assert.equal(cmd.resultsFor(id).length, 1, `${id}: ${JSON.stringify(cmd.resultsFor(id).map((x) => x.value))}`);
    }
  }));
});
