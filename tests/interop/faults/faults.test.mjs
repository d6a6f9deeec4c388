// The fault suite (ctest label `faults`): the gateway's promise under the
// faults operators see, on a private 3-broker KRaft cluster (replication 3,
// min.insync.replicas 2, as the gateway creates its topics there).
//
// Every scenario runs its own stations (half OCPP 1.6, half 2.0.1, ocpp-rpc in
// strict mode) that keep sending MeterValues with a unique marker, one CALL
// at a time, and send a message again (same payload) after a CALLERROR, a
// timeout or a lost connection, as the OCPP contract expects. After a few
// acknowledged messages each, the fault is injected; once it is over, every
// station must get more messages acknowledged, then the meter-values topic is
// read back and checked (lib/checker.mjs): no acknowledged record lost, every
// record carrying exactly the reply the station got, duplicates only where a
// station resent and then with one dedupKey, sequence order per session. The
// gateways must stay up (except the one killed on purpose) and below an RSS
// bound.
//
// Scenarios: SIGKILL of the broker leading the stations' first partition
// (restarted 10 s later); a broker frozen with SIGSTOP for 30 s; a rolling
// restart of all three brokers; the whole cluster down for 60 s; SIGKILL of one
// of two gateway instances, its stations moving to the survivor; partitions
// added to the meter-values topic and to two topics the gateway reads as
// tables (it must start reading the new ones, and say that the presence topic
// must not grow); a fatal producer error injected through the gateway's test hook
// while records wait for a frozen leader (the producer is replaced with CALLs in flight). In every scenario but the cluster outage, operator commands
// (DataTransfer) are written every 250 ms during the fault: each must get exactly
// one result and reach its station at most once (CALLs counted at the stations),
// a Completed one exactly once.
//
// The table of results is printed as test diagnostics and, with
// OCPP_FAULTS_REPORT=<file>, written there as JSON (docs/reliability.md).
// KAFKA_VERSION=<x.y.z> runs the same suite against another broker version.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { accessSync, constants as fsConstants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';

import { startGateway, uniqueStationId, withGatewayLog, httpGet } from '../lib/gateway.mjs';
import { TopicReader, TOPICS, readToEndRetrying, retryRead, waitForGroupCoordinator } from '../lib/kafka.mjs';
import { CommandClient } from '../lib/commands.mjs';
import { PrivateCluster } from '../lib/broker.mjs';
import { GatewayMonitor, rssSummary, metricValue } from '../lib/monitor.mjs';
import { until } from '../lib/until.mjs';
import { RetryingMeterStation, awaitLoops } from '../lib/retrying-station.mjs';
import { checkMeterDelivery, recoveryTimes } from '../lib/checker.mjs';

const STATIONS = 8;
// Above the gateway's delivery timeout (kafka.delivery_timeout_ms, 20 s) plus
// librdkafka's reconnect backoff: a station learns of a failed write from a
// CALLERROR, not from its own timeout.
const CALL_TIMEOUT_MS = 35_000;
const ACKS_BEFORE = 3;              // each station, before the fault
const ACKS_AFTER = 5;               // each station, after the fault ended
const RECOVERY_TIMEOUT_MS = 120_000;
// Sanitizer builds need several times the memory: FAULTS_RSS_BOUND_MIB there (scripts/test.sh).
const RSS_BOUND_MIB = Number(process.env.FAULTS_RSS_BOUND_MIB || 200);
// FAULTS_SCENARIOS=<regex>: only the scenarios whose title matches (the sanitizer run).
const ONLY = process.env.FAULTS_SCENARIOS ? new RegExp(process.env.FAULTS_SCENARIOS) : null;
function faultTest(title, fn) {
  return test(title, { skip: ONLY && !ONLY.test(title) ? `not in FAULTS_SCENARIOS (${ONLY.source})` : false }, fn);
}
const MONITOR_INTERVAL_MS = 500;
// Operator commands during the fault: a DataTransfer to one station after another.
const COMMAND_INTERVAL_MS = 250;
const COMMAND_TIMEOUT_MS = 10_000;
const COMMAND_EXPIRY_MS = 60_000;
const COMMANDS_AFTER_MS = 5_000;    // commands go on this long after the fault ended
// The project's load generator beside the checked stations (realistic mix; it does not
// resend): its acknowledged CALLs must all be on Kafka. OCPP_LOADGEN_BIN (ctest sets it).
const LOADGEN_BIN = process.env.OCPP_LOADGEN_BIN || '';
const LOADGEN_STATIONS = 40;
const LOADGEN_RATE = 200;
const LOADGEN_TOPICS = [TOPICS.meterValues, TOPICS.status, TOPICS.heartbeats, TOPICS.authorizations];
const RESULTS_TOPIC = 'ocpp.command-results';
// After every command has a result, a second one would have had this long to appear (not
// used for synchronisation).
const OBSERVE_MS = 3_000;

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

function table(rows) {
  const cols = ['fault', 'stations', 'messages', 'records', 'lost', 'replyMismatch', 'duplicates', 'unexplainedDuplicates',
    'orderViolations', 'commands', 'commandsNotOneResult', 'commandsDeliveredTwice', 'longestStallMs', 'recoveredAfterMs', 'peakRssMiB'];
  const lines = [`| ${cols.join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`];
  for (const r of rows) lines.push(`| ${cols.map((c) => r[c]).join(' | ')} |`);
  return lines.join('\n');
}

describe('faults on a 3-broker cluster', { timeout: 20 * 60_000 }, () => {
  let cluster;
  const results = [];
  let kafkaVersion = process.env.KAFKA_VERSION || 'pinned (deploy/kafka/pom.xml)';

  before(async () => {
    cluster = await PrivateCluster.create(3);
    await cluster.start();
    const reader = await new TopicReader({ brokers: cluster.brokers }).connect();
    try {
      await waitForGroupCoordinator(reader, 60_000);
    } finally {
      await reader.close();
    }
    // A first gateway creates the topics (replication 3, min.insync.replicas 2) and
    // stops; the scenarios start on settled topics.
    const creator = await startGateway({ brokers: cluster.brokers });
    await creator.stop();
  });

  after(async () => {
    if (results.length) {
      process.stdout.write(`\n# fault suite, Kafka ${kafkaVersion}\n${table(results)}\n`);
      // The reasons again, last: a long failure output is often cut in the middle.
      for (const r of results.filter((x) => x.failed)) {
        process.stderr.write(`\n# ${r.fault} FAILED: ${String(r.error ?? 'no assertion recorded').slice(0, 3000)}\n`);
      }
      if (process.env.OCPP_FAULTS_REPORT) {
        writeFileSync(process.env.OCPP_FAULTS_REPORT, `${JSON.stringify({ kafkaVersion, results }, null, 2)}\n`);
      }
    }
    const keep = process.env.OCPP_TEST_KEEP_LOGS === '1' && results.some((r) => r.failed);
    const error = await cluster?.destroy({ keepData: keep });
    if (keep) process.stderr.write(`\nkept the cluster's data: ${cluster.dataDir}\n`);
    if (error) throw error;
  });

  /**
   * One scenario: gateways and stations of its own, `fault(ctx)` in the middle
   * (resolving with the time the fault ended), then the check.
   */
  async function scenario(t, name, { gateways: gatewayCount = 1, failover = false, killsGateway = false, partitionsGrew = false,
    commands = true, gatewayArgs = [], loadSeconds = 0, fault }) {
    const gateways = [];
    let cmd = null;
    const sent = [];                 // {commandId, stationId} of every command written
    const sendFailures = [];
    let sending = false;
    let commandLoop = null;
    let load = null;                 // the load generator's run: {prefix, done: Promise<report>, trafficStarted}
    const monitors = [];
    const stations = [];
    const row = { fault: name, failed: true };
    results.push(row);
    const gatewayLog = () => gateways.find((g) => g.running) ?? gateways[0];
    await withGatewayLog(gatewayLog, async () => {
      try {
        for (let i = 0; i < gatewayCount; i++) {
          const gw = await startGateway({ brokers: cluster.brokers, extraArgs: gatewayArgs });
          gateways.push(gw);
          monitors.push(new GatewayMonitor(gw, { intervalMs: MONITOR_INTERVAL_MS }).start());
        }
        for (let i = 0; i < STATIONS; i++) {
          const protocol = i % 2 === 0 ? 'ocpp1.6' : 'ocpp2.0.1';
          // Station i starts on gateway i mod n and fails over to the others in turn.
          const endpoints = gateways.map((_, k) => gateways[(i + k) % gateways.length].endpoint);
          const s = new RetryingMeterStation({
            endpoints,
            identity: uniqueStationId(protocol === 'ocpp1.6' ? 'FLT16' : 'FLT201'),
            protocol,
            index: i,
            callTimeoutMs: CALL_TIMEOUT_MS,
            failover,
            handlers: { DataTransfer: () => ({ status: 'Accepted' }) },
          });
          stations.push(s);
          await s.connect();
        }
        const trafficStart = Date.now();
        for (const s of stations) s.start();
        await until(() => stations.every((s) => s.acknowledgedSince(0) >= ACKS_BEFORE), 30_000,
          `every station acknowledged ${ACKS_BEFORE} messages before the fault`);

        if (commands) {
          cmd = await new CommandClient({ brokers: cluster.brokers }).start();
          sending = true;
          // Written without waiting for each other: a send held up by a frozen broker must
          // not hold up the commands behind it.
          commandLoop = (async () => {
            const pending = [];
            for (let i = 0; sending; i++) {
              const s = stations[i % stations.length];
              const commandId = `flt-${randomUUID()}`;
              pending.push(cmd.send({
                commandId, stationId: s.identity, action: 'DataTransfer',
                payload: { vendorId: 'org.ocpp-gateway.faults', messageId: 'probe', data: commandId },
                timeoutMs: COMMAND_TIMEOUT_MS, expiresAt: new Date(Date.now() + COMMAND_EXPIRY_MS).toISOString(),
              }).then(() => { sent.push({ commandId, stationId: s.identity }); },
                // Not written as far as the client knows: not counted.
                (err) => { sendFailures.push(err.message); }));
              await pause(COMMAND_INTERVAL_MS);   // command pacing
            }
            await Promise.all(pending);
          })();
        }
        if (LOADGEN_BIN && loadSeconds > 0) {
          load = startLoad(gateways[0], loadSeconds);
          // Its stations boot before the fault, as the checked ones did: a fault that began
          // during their boots (a busy machine) left them unbooted until its ramp-up gave up.
          await load.trafficStarted;
        }
        const faultStart = Date.now();
        const faultEnd = await fault({ gateways, stations });
        t.diagnostic(`${name}: fault from +${faultStart - trafficStart} ms to +${faultEnd - trafficStart} ms`);
        for (const s of stations) s.finishAfter(ACKS_AFTER, faultEnd);
        await awaitLoops(stations, RECOVERY_TIMEOUT_MS, CALL_TIMEOUT_MS + 2_000);
        // Commands keep coming a while after short faults too.
        await pause(Math.max(0, faultEnd + COMMANDS_AFTER_MS - Date.now()));
        sending = false;
        await commandLoop;
        for (const m of monitors) m.stop();

        // Read back and check.
        const reader = await new TopicReader({ brokers: cluster.brokers }).connect();
        let records;
        try {
          await waitForGroupCoordinator(reader, 60_000);
          records = await readToEndRetrying(reader, [TOPICS.meterValues], { key: stations.map((s) => s.identity), timeoutMs: 60_000 });
        } finally {
          await reader.close();
        }
        const { stats, problems } = checkMeterDelivery({ stations, records, partitionsGrew });
        const commandStats = commands ? await checkCommands({ sent, stations, problems }) : {};
        const loadStats = load ? await checkLoad(load, problems) : {};
        if (load) t.diagnostic(`${name}: load generator ${JSON.stringify(loadStats)}`);
        if (commands) t.diagnostic(`${name}: commands ${JSON.stringify(commandStats)}; not written (client side): ${sendFailures.length}`);
        const partitionsUsed = new Set(records.map((r) => r.partition));
        t.diagnostic(`${name}: records on partitions ${[...partitionsUsed].sort((a, b) => a - b).join(', ')}`);
        const times = recoveryTimes(stations, { from: faultStart, end: faultEnd });
        const rss = monitors.map((m) => rssSummary(m.samples)).filter(Boolean);
        Object.assign(row, stats, commandStats, loadStats, times, { peakRssMiB: Math.max(...rss.map((r) => r.maxMiB)) });
        const outcomes = {};
        for (const s of stations) for (const { attempt } of s.attempts()) outcomes[attempt.code ?? 'result'] = (outcomes[attempt.code ?? 'result'] ?? 0) + 1;
        t.diagnostic(`${name}: ${JSON.stringify(stats)}; answers ${JSON.stringify(outcomes)}; longest stall ${times.longestStallMs} ms, `
          + `all stations acknowledged again ${times.recoveredAfterMs} ms after the fault ended; peak RSS ${row.peakRssMiB} MiB; `
          + `reconnections ${stations.reduce((n, s) => n + s.reconnects.length, 0)}`);

        const unacked = stations.flatMap((s) => s.messages.filter((m) => m.ackedAt === null)
          .map((m) => `${s.identity} marker ${m.marker} (${m.attempts.map((a) => a.code ?? 'result').join(',')})`));
        assert.deepEqual(unacked, [], `messages unacknowledged ${RECOVERY_TIMEOUT_MS} ms after the fault ended`);
        assert.deepEqual(stations.flatMap((s) => s.failures), [], 'station loops');
        assert.deepEqual(problems.slice(0, 40), [], `${problems.length} problems`);
        assert.equal(stats.lost, 0, 'acknowledged records lost');
        for (const s of stations) {
          for (const c of s.connections) {
            assert.deepEqual(c.strictFailures.map((f) => `${f.method}: ${f.error?.message}`), [], `${s.identity}: strict-mode validation failures`);
            assert.deepEqual(c.unexpected, [], `${s.identity}: messages from the gateway that answer no call`);
          }
          if (!failover) assert.equal(s.station.closeInfo, null, `${s.identity} was disconnected: ${JSON.stringify(s.station.closeInfo)}`);
        }
        assert.ok(row.peakRssMiB < RSS_BOUND_MIB, `gateway RSS reached ${row.peakRssMiB} MiB (bound ${RSS_BOUND_MIB})`);
        for (const [k, gw] of gateways.entries()) {
          if (killsGateway && k === 0) continue;
          assert.ok(gw.running, `gateway ${gw.gatewayId} exited: ${JSON.stringify(gw.exitInfo)}`);
        }
        row.failed = false;
      } catch (err) {
        row.error = err?.message ?? String(err);
        throw err;
      } finally {
        load?.child.kill('SIGKILL');
        sending = false;
        await commandLoop?.catch(() => {});
        await cmd?.stop().catch(() => {});
        for (const m of monitors) m.stop();
        for (const s of stations) s.abort();
        for (const s of stations) for (const c of s.connections) await c.client.close({ force: true }).catch(() => {});
        for (const gw of gateways) {
          gw.failed = row.failed;
          if (gw.running) {
            await gw.stop().catch((err) => { if (!row.failed) throw err; });
          } else {
            await gw.discard();  // killed by the scenario
          }
        }
      }
    })(t);
  }

  /**
   * Every command written has exactly one result and reached its station at most once
   * (counted from the CALLs the stations received); a Completed one exactly once, one that
   * says it was never sent not at all. Adds problems; returns the counts.
   */
  async function checkCommands({ sent, stations, problems }) {
    const ids = new Set(sent.map((c) => c.commandId));
    const reader = await new TopicReader({ brokers: cluster.brokers }).connect();
    let results;
    try {
      await waitForGroupCoordinator(reader, 60_000);
      const resultIds = (recs) => new Set(recs.map((r) => r.value?.commandId).filter((id) => ids.has(id)));
      const waited = await retryRead(() => reader.waitFor([RESULTS_TOPIC], (recs) => resultIds(recs).size === ids.size,
        { timeoutMs: COMMAND_EXPIRY_MS + COMMAND_TIMEOUT_MS + 30_000, what: 'a result for every command', allowTimeout: true }));
      if (!waited.timedOut) await pause(OBSERVE_MS);
      results = await readToEndRetrying(reader, [RESULTS_TOPIC], { timeoutMs: 60_000 });
    } finally {
      await reader.close();
    }
    const byId = new Map();
    for (const r of results) {
      const id = r.value?.commandId;
      if (!ids.has(id)) continue;
      if (!byId.has(id)) byId.set(id, []);
      byId.get(id).push(r.value);
    }
    const calls = new Map();
    for (const s of stations) {
      for (const c of s.connections) {
        for (const call of c.inboundCalls) {
          if (call.action !== 'DataTransfer') continue;
          calls.set(call.payload.data, (calls.get(call.payload.data) ?? 0) + 1);
        }
      }
    }
    const statuses = {};
    let notOne = 0;
    let twice = 0;
    for (const { commandId, stationId } of sent) {
      const rs = byId.get(commandId) ?? [];
      const delivered = calls.get(commandId) ?? 0;
      if (rs.length !== 1) {
        notOne++;
        problems.push(`command ${commandId} (${stationId}): ${rs.length} results ${JSON.stringify(rs.map((r) => r.status))}`);
      }
      if (delivered > 1) {
        twice++;
        problems.push(`command ${commandId} (${stationId}) reached the station ${delivered} times`);
      }
      const r = rs[0];
      if (!r) continue;
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      if (r.status === 'Completed' && delivered !== 1) problems.push(`command ${commandId} Completed but delivered ${delivered} times`);
      if (r.sent === false && delivered !== 0) problems.push(`command ${commandId} ${r.status} with sent: false but delivered ${delivered} times`);
    }
    return { commands: sent.length, commandsNotOneResult: notOne, commandsDeliveredTwice: twice, commandStatuses: statuses };
  }

  /**
   * Runs ocpp-loadgen against `gw` for `seconds` (its stations boot, then send the realistic
   * mix at LOADGEN_RATE); resolves its JSON report.
   */
  function startLoad(gw, seconds) {
    const prefix = `LG${randomUUID().slice(0, 6)}`;
    const child = spawn(LOADGEN_BIN, ['--url', gw.endpoint, '--stations', String(LOADGEN_STATIONS), '--mix', 'realistic',
      '--rate', String(LOADGEN_RATE), '--warmup', '0', '--duration', String(seconds), '--timeout-ms', String(CALL_TIMEOUT_MS),
      '--id-prefix', prefix, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let markTraffic;
    // Resolves when every station has booted and the generator has begun its traffic (its
    // "traffic:" line); rejects with its output when it ends before that.
    const trafficStarted = new Promise((resolve, reject) => { markTraffic = { resolve, reject }; });
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => {
      err += d;
      if (/^traffic:/m.test(err)) markTraffic.resolve();
    });
    child.on('exit', (code) => {
      markTraffic.reject(new Error(`ocpp-loadgen exited ${code} before its traffic began: ${err.slice(-2000)}`));
    });
    const done = new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code) => {
        if (code !== 0) { reject(new Error(`ocpp-loadgen exited ${code}: ${err.slice(-2000)}`)); return; }
        try { resolve(JSON.parse(out)); } catch (e) { reject(new Error(`ocpp-loadgen report unreadable: ${e.message}: ${out.slice(0, 500)}`)); }
      });
    });
    done.catch(() => {});
    return { prefix, done, child, trafficStarted };
  }

  /**
   * Every CALL the load generator had answered with a CALLRESULT (boots included) is on
   * Kafka: its stations' records number at least that many (more only where a CALL failed
   * although its record was stored). Aggregate: the generator keeps no per-CALL log.
   */
  async function checkLoad(load, problems) {
    let timer;
    const report = await Promise.race([load.done,
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('ocpp-loadgen did not finish')), 180_000); })]);
    clearTimeout(timer);
    const acknowledged = report.calls.call_results + report.boot.accepted;
    const reader = await new TopicReader({ brokers: cluster.brokers }).connect();
    let records;
    try {
      await waitForGroupCoordinator(reader, 60_000);
      const keys = Array.from({ length: LOADGEN_STATIONS }, (_, i) => `${load.prefix}${String(i + 1).padStart(6, '0')}`);
      records = await readToEndRetrying(reader, LOADGEN_TOPICS, { key: keys, timeoutMs: 60_000 });
    } finally {
      await reader.close();
    }
    if (records.length < acknowledged) {
      problems.push(`load generator: ${acknowledged} CALLs acknowledged but only ${records.length} records on Kafka`);
    }
    return {
      loadAcknowledged: acknowledged,
      loadRecords: records.length,
      loadErrors: report.calls.call_errors + report.boot.call_errors,
      loadTimeouts: report.calls.timeouts + report.boot.timeouts,
      loadClosed: report.connections.closed_by_gateway,
    };
  }

  /** The node leading partition 0 of the meter-values topic. */
  async function leaderOfMeterValues() {
    const reader = await new TopicReader({ brokers: cluster.brokers }).connect();
    try {
      const meta = await reader.admin.fetchTopicMetadata({ topics: [TOPICS.meterValues] });
      const p0 = meta.topics[0].partitions.find((p) => p.partitionId === 0);
      return p0.leader;
    } finally {
      await reader.close();
    }
  }

  faultTest('SIGKILL of the partition leader mid-traffic, restarted 10 s later', (t) => scenario(t, 'leader SIGKILL', {
    loadSeconds: 30,
    fault: async () => {
      const leader = await leaderOfMeterValues();
      t.diagnostic(`killing node ${leader}, leader of ${TOPICS.meterValues}[0]`);
      await cluster.node(leader, 'kill');
      await pause(10_000);          // the fault's duration
      await cluster.node(leader, 'start');
      return Date.now();
    },
  }));

  faultTest('a broker frozen (SIGSTOP) for 30 s, then resumed', (t) => scenario(t, 'broker frozen 30 s', {
    loadSeconds: 40,
    fault: async () => {
      const leader = await leaderOfMeterValues();
      t.diagnostic(`freezing node ${leader}, leader of ${TOPICS.meterValues}[0]`);
      await cluster.node(leader, 'pause');
      await pause(30_000);          // the fault's duration
      await cluster.node(leader, 'resume');
      return Date.now();
    },
  }));

  faultTest('rolling restart of all three brokers', (t) => scenario(t, 'rolling restart', {
    loadSeconds: 60,
    fault: async () => {
      for (let i = 1; i <= cluster.nodes; i++) {
        await cluster.node(i, 'stop');
        await cluster.node(i, 'start');
      }
      return Date.now();
    },
  }));

  // Commands sent while the cluster is down cannot be written at all; the other scenarios
  // carry them.
  faultTest('the whole cluster down for 60 s', (t) => scenario(t, 'cluster down 60 s', {
    commands: false,
    loadSeconds: 90,
    fault: async () => {
      await cluster.stop();
      await pause(60_000);          // the fault's duration
      await cluster.start();
      return Date.now();
    },
  }));

  faultTest('SIGKILL of one of two gateway instances: its stations move to the survivor', (t) => scenario(t, 'gateway SIGKILL', {
    gateways: 2,
    failover: true,
    killsGateway: true,
    fault: async ({ gateways, stations }) => {
      gateways[0].kill();
      await gateways[0].exited;
      const moved = stations.filter((s, i) => i % 2 === 0);
      await until(() => moved.every((s) => s.reconnects.length > 0), 30_000, 'stations of the killed instance reconnected');
      return Date.now();
    },
  }));

  faultTest('a producer fatal error injected while CALLs are in flight', async (t) => {
    // admin.test_hooks exists only in a configuration file: never by accident on a command line.
    const dir = mkdtempSync(join(tmpdir(), 'ocpp-faults-'));
    const config = join(dir, 'gateway.yaml');
    writeFileSync(config, 'admin:\n  test_hooks: true\n');
    try {
      await scenario(t, 'producer fatal error', {
        gatewayArgs: ['--config', config],
        loadSeconds: 10,
        fault: async ({ gateways }) => {
          const gw = gateways[0];
          // Records must be in the producer when it fails: the leader of the stations' first
          // partition is frozen first, so what is written there waits (the queue-depth metric
          // says so), and the error strikes them in flight.
          const leader = await leaderOfMeterValues();
          await cluster.node(leader, 'pause');
          let queued = 0;
          try {
            const waiting = Date.now() + 15_000;
            for (;;) {
              const text = (await httpGet(gw.adminUrl('/metrics'))).text;
              queued = metricValue(text, 'ocpp_kafka_queue_depth') ?? 0;
              if (queued >= 1) break;
              assert.ok(Date.now() < waiting, 'no record waited in the producer with the leader frozen');
              await pause(100);        // polling the metrics endpoint
            }
            const res = await fetch(gw.adminUrl('/test/kafka-fatal'), { method: 'POST' });
            assert.equal(res.status, 200, await res.text());
            // The gateway replaces its producer (its metric says when).
            const deadline = Date.now() + 30_000;
            for (;;) {
              const text = (await httpGet(gw.adminUrl('/metrics'))).text;
              if ((metricValue(text, 'ocpp_kafka_producer_replacements_total') ?? 0) >= 1) break;
              assert.ok(Date.now() < deadline, 'the producer was not replaced within 30 s');
              await pause(200);        // polling the metrics endpoint
            }
          } finally {
            await cluster.node(leader, 'resume');
          }
          t.diagnostic(`producer fatal error: ${queued} record(s) in the producer (node ${leader} frozen) when it was injected`);
          return Date.now();
        },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // Last: the grown presence topic is not for the scenarios above.
  faultTest('partitions added while the gateway runs', (t) => scenario(t, 'partitions added', {
    partitionsGrew: true,
    loadSeconds: 40,
    fault: async ({ gateways }) => {
      const grown = [TOPICS.meterValues, 'ocpp.command-results', 'ocpp.presence'];
      const grownAt = Date.now();
      const reader = await new TopicReader({ brokers: cluster.brokers }).connect();
      try {
        await reader.admin.createPartitions({ topicPartitions: grown.map((topic) => ({ topic, count: 6 })) });
      } finally {
        await reader.close();
      }
      // The gateway reads the new partitions of its table topics (checked every 5 s).
      const gw = gateways[0];
      const added = (text, topic) => metricValue(text, 'ocpp_kafka_partitions_added_total', { topic }) ?? 0;
      const deadline = Date.now() + 60_000;
      for (;;) {
        const text = (await httpGet(gw.adminUrl('/metrics'))).text;
        if (added(text, 'ocpp.command-results') === 3 && added(text, 'ocpp.presence') === 3) break;
        assert.ok(Date.now() < deadline, `new partitions not picked up within 60 s: ${text.split('\n').filter((l) => l.startsWith('ocpp_kafka_partitions_added_total')).join('; ')}`);
        await pause(500);          // polling the metrics endpoint
      }
      await gw.waitForOutput(/topic ocpp\.presence gained partitions 3, 4, 5 while gateways run/);
      // Traffic goes on across a refresh of the producer's metadata (every 30 s), after
      // which stations whose key now maps to a new partition write there.
      await pause(Math.max(0, grownAt + 35_000 - Date.now()));
      return Date.now();
    },
  }));
});
