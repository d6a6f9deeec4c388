// A private Kafka broker (deploy/kafka/kafka.sh) for tests that stop and
// restart it: free loopback ports, a fresh data directory, start / stop /
// restart on the same data, and removal at the end. Every kafka.sh call is
// bounded in time.
//
// If this process exits while the broker still runs (a crashed test run),
// a synchronous `kafka.sh stop` is attempted from the exit handler.

import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.mjs';
import { freePorts, startGateway } from './gateway.mjs';

export const KAFKA_SH = join(REPO_ROOT, 'deploy', 'kafka', 'kafka.sh');

const START_TIMEOUT_S = 60;
const STOP_TIMEOUT_S = 20;

function run(env, command, timeoutMs) {
  return runArgs(env, [command], timeoutMs);
}

function runArgs(env, args, timeoutMs) {
  const command = args.join(' ');
  return new Promise((resolve, reject) => {
    execFile(KAFKA_SH, args, { env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          err.message = `kafka.sh ${command} failed (${err.killed ? `killed after ${timeoutMs} ms` : `exit ${err.code}`}): ${err.message}\n${stdout}\n${stderr}`;
          reject(err);
          return;
        }
        resolve({ stdout, stderr });
      });
  });
}

/** The last `lines` lines of a log file, or a note that there is none. */
function tailOf(file, lines) {
  try {
    return execFileSync('tail', ['-n', String(lines), file], { encoding: 'utf8' });
  } catch {
    return '(no broker log)';
  }
}

/** stop(), then the data directory removed (unless kept); returns the stop error, never throws. */
async function stopAndRemove(kafka, keepData) {
  let error = null;
  try {
    await kafka.stop();
  } catch (err) {
    error = err;
  }
  if (!keepData && !kafka.removed) {
    rmSync(kafka.dataDir, { recursive: true, force: true });
    kafka.removed = true;
  }
  return error;
}

export class PrivateBroker {
  /** Picks two free ports and a fresh data directory; nothing runs yet. */
  static async create(prefix = 'ocpp-interop-kafka-') {
    const [port, controllerPort] = await freePorts(2);
    const dataDir = mkdtempSync(join(tmpdir(), prefix));
    return new PrivateBroker({ port, controllerPort, dataDir });
  }

  constructor({ port, controllerPort, dataDir }) {
    this.port = port;
    this.controllerPort = controllerPort;
    this.dataDir = dataDir;
    this.started = false;
    this.removed = false;
    this.env = {
      ...process.env,
      KAFKA_PORT: String(port),
      KAFKA_CONTROLLER_PORT: String(controllerPort),
      KAFKA_DATA: dataDir,
      KAFKA_START_TIMEOUT: String(START_TIMEOUT_S),
      KAFKA_STOP_TIMEOUT: String(STOP_TIMEOUT_S),
    };
    this._onExit = () => {
      if (!this.started) return;
      try {
        execFileSync(KAFKA_SH, ['stop'], { env: this.env, timeout: (STOP_TIMEOUT_S + 10) * 1000, stdio: 'ignore' });
      } catch { /* best effort while exiting */ }
    };
  }

  /** bootstrap.servers of this broker */
  get brokers() {
    return `127.0.0.1:${this.port}`;
  }

  /** Starts (or restarts, on the same data) and returns once a record can be produced. */
  async start() {
    if (!this.started) process.once('exit', this._onExit);
    this.started = true;
    return run(this.env, 'start', (START_TIMEOUT_S + 30) * 1000);
  }

  /** SIGTERM, wait (then SIGKILL after KAFKA_STOP_TIMEOUT); resolves once the JVM is gone. */
  async stop() {
    const out = await run(this.env, 'stop', (STOP_TIMEOUT_S + 15) * 1000);
    this.started = false;
    process.off('exit', this._onExit);
    return out;
  }

  /** Exit code of `kafka.sh status`: 0 running, 3 not. */
  async status() {
    try {
      await run(this.env, 'status', 15_000);
      return 0;
    } catch (err) {
      return typeof err.code === 'number' ? err.code : -1;
    }
  }

  /** The end of the broker's logs (for failure reports). */
  logTail(lines = 40) {
    return tailOf(join(this.dataDir, 'logs', 'server.log'), lines);
  }

  /** Stops the broker if it runs and deletes the data directory; never throws. */
  async destroy({ keepData = false } = {}) {
    return stopAndRemove(this, keepData);
  }
}

/**
 * A private cluster of `nodes` brokers (kafka.sh cluster / node) on free
 * loopback ports with a fresh data directory, for the fault suite: SIGKILL,
 * SIGSTOP/SIGCONT and restarts of single nodes, and the whole cluster down
 * and up again on the same data.
 */
export class PrivateCluster {
  static async create(nodes = 3, prefix = 'ocpp-faults-kafka-') {
    const ports = await freePorts(2 * nodes);
    const dataDir = mkdtempSync(join(tmpdir(), prefix));
    return new PrivateCluster({ nodes, ports: ports.slice(0, nodes), controllerPorts: ports.slice(nodes), dataDir });
  }

  constructor({ nodes, ports, controllerPorts, dataDir }) {
    this.nodes = nodes;
    this.ports = ports;
    this.dataDir = dataDir;
    this.started = false;
    this.removed = false;
    this.env = {
      ...process.env,
      KAFKA_PORTS: ports.join(','),
      KAFKA_CONTROLLER_PORTS: controllerPorts.join(','),
      KAFKA_DATA: dataDir,
      KAFKA_START_TIMEOUT: String(START_TIMEOUT_S + 30),
      KAFKA_STOP_TIMEOUT: String(STOP_TIMEOUT_S),
    };
    this._onExit = () => {
      if (!this.started) return;
      try {
        execFileSync(KAFKA_SH, ['cluster', 'stop'], { env: this.env, timeout: (STOP_TIMEOUT_S + 10) * 1000, stdio: 'ignore' });
      } catch { /* best effort while exiting */ }
    };
  }

  get brokers() {
    return this.ports.map((p) => `127.0.0.1:${p}`).join(',');
  }

  /** Node number (1-based) whose client port is `port`. */
  nodeOfPort(port) {
    return this.ports.indexOf(Number(port)) + 1;
  }

  _run(args, timeoutMs) {
    return runArgs(this.env, args, timeoutMs);
  }

  /** Starts every node (or the stopped ones) and returns once all are registered and a record was produced. */
  async start() {
    if (!this.started) process.once('exit', this._onExit);
    this.started = true;
    return this._run(['cluster', 'start', String(this.nodes)], (START_TIMEOUT_S + 60) * 1000);
  }

  async stop() {
    const out = await this._run(['cluster', 'stop'], (STOP_TIMEOUT_S + 20) * 1000);
    this.started = false;
    process.off('exit', this._onExit);
    return out;
  }

  /** `kafka.sh node I <action>`: start | stop | kill | pause | resume. */
  async node(i, action) {
    const timeoutMs = action === 'start' ? (START_TIMEOUT_S + 60) * 1000 : (STOP_TIMEOUT_S + 15) * 1000;
    return this._run(['node', String(i), action], timeoutMs);
  }

  logTail(node, lines = 30) {
    return tailOf(join(this.dataDir, `node-${node}`, 'logs', 'server.log'), lines);
  }

  /** Stops every node and deletes the data directory; never throws. */
  async destroy({ keepData = false } = {}) {
    return stopAndRemove(this, keepData);
  }
}

/**
 * A gateway against a private broker of its own, for tests that stop the broker under it:
 * `yaml` are the lines of its configuration file, `extraArgs` further arguments. Resolves
 * { broker, gateway, destroy() }; destroy() kills the gateway and removes the broker.
 */
export async function gatewayOnOwnBroker(yaml, extraArgs = []) {
  const broker = await PrivateBroker.create();
  const dir = mkdtempSync(join(tmpdir(), 'ocpp-own-broker-'));
  let gateway;
  const destroy = async () => {
    if (gateway?.running) gateway.kill();
    await broker.destroy().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await broker.start();
    const config = join(dir, 'gateway.yaml');
    writeFileSync(config, [...yaml, ''].join('\n'));
    gateway = await startGateway({ brokers: broker.brokers, extraArgs: ['--config', config, ...extraArgs] });
  } catch (err) {
    await destroy();
    throw err;
  }
  return { broker, gateway, destroy };
}
