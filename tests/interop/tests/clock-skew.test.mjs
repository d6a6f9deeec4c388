// A gateway instance whose clock is 30 s ahead of the others (commands.test_clock_offset_ms,
// a test hook that shifts the command router's wall clock) must not take a live instance for
// gone. Instance liveness is judged by when this host received the other's liveness records,
// not by the timestamps the other host wrote: otherwise the skewed instance would see the
// station's instance as silent for 30 s, refuse commands for the station (NotConnected) or
// answer for a command still running there (a second result).
//
// Two instances share command topics and a consumer group of their own; the station is on the
// unskewed one and takes twice the instance timeout to answer. Whichever instance owns the
// command, it must reach the station once and end with exactly one result, Completed.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';

import { startGateway, uniqueStationId } from '../lib/gateway.mjs';
import {
  CommandClient, isolatedCommands, assertResult, connectStation, waitPresence, callsOf, closeStations,
} from '../lib/commands.mjs';

const INSTANCE_TIMEOUT_MS = 3_000;
const SKEW_MS = 30_000;
const ANSWER_AFTER_MS = 2 * INSTANCE_TIMEOUT_MS;
const RESULT_WAIT_MS = 30_000;
// Observation window after the result: a second result or CALL would have had this long to
// appear (not used for synchronisation).
const OBSERVE_MS = 2 * INSTANCE_TIMEOUT_MS;
const COMMANDS = 4;

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

describe('an instance with a skewed clock', { timeout: 180_000 }, () => {
  const iso = isolatedCommands();
  const gateways = [];
  let holder;
  let skewed;
  let cmd;
  const stations = [];
  // On failure both logs: the decision may have been either instance's.
  const logOnFailure = (fn) => async (t) => {
    try {
      return await fn(t);
    } catch (err) {
      for (const gw of gateways) {
        gw.failed = true;
        process.stderr.write(`\n--- gateway output (${gw.gatewayId}) ---\n${gw.outputTail()}\n`);
      }
      throw err;
    }
  };

  before(async () => {
    const skewedConfig = `${iso.configFile}.skewed.yaml`;
    const base = readFileSync(iso.configFile, 'utf8');
    writeFileSync(skewedConfig, base.replace('commands:\n', `commands:\n  test_clock_offset_ms: ${SKEW_MS}\n`));
    const timeoutArgs = ['--instance-timeout-ms', String(INSTANCE_TIMEOUT_MS)];
    holder = await startGateway({ extraArgs: [...iso.extraArgs, ...timeoutArgs] });
    gateways.push(holder);
    skewed = await startGateway({ extraArgs: ['--config', skewedConfig, ...timeoutArgs] });
    gateways.push(skewed);
    cmd = await new CommandClient({ topics: iso.topics }).start();
  });

  after(async () => {
    await closeStations(stations);
    try {
      for (const gw of gateways) await gw.stop();
    } finally {
      await cmd?.stop();
      await iso.cleanup();
    }
  });

  test('commands for a station on the other instance run once and get one result', logOnFailure(async (t) => {
    const stationId = uniqueStationId('ITSKEW');
    const st = await connectStation({ port: holder.port, stationId, protocol: 'ocpp1.6', handlers: {
      Reset: async () => { await delay(ANSWER_AFTER_MS); return { status: 'Accepted' }; },
    } });
    stations.push(st);
    // Connected in the skewed instance's view too: it reads the holder as alive.
    await waitPresence(skewed.adminPort, stationId, { timeoutMs: 20_000 });

    const ids = [];
    for (let i = 0; i < COMMANDS; i++) {
      ids.push(await cmd.send({ commandId: `it-skew-${randomUUID()}`, stationId, action: 'Reset', payload: { type: 'Soft' } }));
    }
    for (const commandId of ids) {
      const r = await cmd.waitResult(commandId, { timeoutMs: RESULT_WAIT_MS + COMMANDS * ANSWER_AFTER_MS });
      assertResult(r, { commandId, stationId, action: 'Reset', gatewayId: holder.gatewayId, ocppVersion: '1.6', status: 'Completed', sent: true, response: { status: 'Accepted' } });
    }
    await delay(OBSERVE_MS);
    for (const commandId of ids) {
      assert.equal(cmd.resultsFor(commandId).length, 1, `${commandId}: results ${JSON.stringify(cmd.resultsFor(commandId).map((x) => x.value))}`);
    }
    assert.equal(callsOf(st, 'Reset').length, COMMANDS, 'each command reached the station once');
    t.diagnostic(`${COMMANDS} commands, each answered after ${ANSWER_AFTER_MS} ms, one result each; the skewed instance runs ${SKEW_MS} ms ahead`);
  }));
});
