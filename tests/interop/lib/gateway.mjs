// Starting, probing and stopping the gateway executable under test.
//
//   OCPP_GATEWAY_BIN          path of the executable (default <repo>/build/bin/ocpp-gateway)
//   OCPP_TEST_KAFKA_BROKERS   bootstrap servers passed to --kafka-brokers (default 127.0.0.1:29092)
//   OCPP_TEST_GATEWAY_ARGS    extra arguments appended to the command line (split on spaces)
//   OCPP_TEST_GATEWAY_ECHO=1  copy the gateway's output to this process's stderr as it arrives
//   OCPP_TEST_KEEP_LOGS=1     keep the gateway's log file even when everything passed
//
// The full output goes to a log file in a fresh directory under the system
// temp dir; it is removed after a clean stop unless a test failed. A gateway
// the test process never stopped or discarded (one a test killed itself, say)
// has its log removed when that process exits with every test passed.

import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { accessSync, constants as fsConstants, createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import { REPO_ROOT } from './paths.mjs';
import { until } from './until.mjs';

export const GATEWAY_BIN = process.env.OCPP_GATEWAY_BIN || join(REPO_ROOT, 'build', 'bin', 'ocpp-gateway');
export const KAFKA_BROKERS = process.env.OCPP_TEST_KAFKA_BROKERS || '127.0.0.1:29092';

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;
/** Output kept in memory (the full output also goes to a log file). */
const OUTPUT_KEEP_BYTES = 512 * 1024;

/** Random lower-case hex of `bytes` bytes. */
export function randomHex(bytes = 4) {
  return randomBytes(bytes).toString('hex');
}

/** A unique station id with the given prefix, e.g. `IT16-1a2b3c4d5e6f`. */
export function uniqueStationId(prefix) {
  return `${prefix}-${randomHex(6)}`;
}

/**
 * Where listening ports are drawn from: below the kernel's ephemeral range. A port the kernel
 * hands out for `listen(0)` lies in that range, which every outgoing connection draws from too
 * (the gateway's own to Kafka among them), so between the probe here and the gateway's bind a
 * connect() could take it ("cannot listen on …: Address already in use"). Ports in 29000 and
 * above are left to the fixed ones of the test and benchmark brokers. Null when the ephemeral
 * range starts too low to leave room; then the kernel picks, as before.
 */
const PORT_POOL = (() => {
  let ephemeralFrom = 32768;
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(first) && first > 0) ephemeralFrom = first;
  } catch {
    // not Linux: keep the usual default
  }
  const from = 20000;
  const to = Math.min(ephemeralFrom - 1, 28999);
  return to - from >= 1000 ? { from, to } : null;
})();
/** Ports this process has handed out: never twice, so parallel starts cannot meet. */
const handedOut = new Set();

/** Listens on `port` (0: any) of 127.0.0.1 and closes again: the port, or null when taken. */
function probePort(port) {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', (err) => (err.code === 'EADDRINUSE' || err.code === 'EACCES' ? resolvePort(null) : reject(err)));
    srv.listen(port, '127.0.0.1', () => {
      const bound = srv.address().port;
      srv.close((err) => (err ? reject(err) : resolvePort(bound)));
    });
  });
}

/** A TCP port on 127.0.0.1 that was free a moment ago (see PORT_POOL). */
export async function freePort() {
  if (PORT_POOL) {
    for (let attempt = 0; attempt < 200; attempt++) {
      const port = randomInt(PORT_POOL.from, PORT_POOL.to + 1);
      if (handedOut.has(port)) continue;
      if ((await probePort(port)) !== null) {
        handedOut.add(port);
        return port;
      }
    }
  }
  const port = await probePort(0);
  if (port === null) throw new Error('no free loopback port');
  return port;
}

/** `count` distinct free ports. */
export async function freePorts(count) {
  const ports = new Set();
  for (let guard = 0; ports.size < count && guard < count * 20; guard++) {
    ports.add(await freePort());
  }
  if (ports.size < count) throw new Error('could not find enough free loopback ports');
  return [...ports];
}

function delay(ms, signal) {
  return new Promise((res) => {
    const onAbort = () => { clearTimeout(t); res(); };
    // The listener goes when the timer fires: a poll loop on one signal must not pile them up.
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); res(); }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * GET over HTTP on a fresh connection (no keep-alive reuse), bounded in
 * time; resolves {status, text, headers} (headers: lower-case names).
 */
export function httpGet(url, timeoutMs = 2_000) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'GET', agent: false, headers: { connection: 'close' } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => { clearTimeout(timer); resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }); });
      res.on('error', (err) => { clearTimeout(timer); reject(err); });
    });
    const timer = setTimeout(() => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => { clearTimeout(timer); reject(err); });
    req.end();
  });
}

class OutputBuffer {
  constructor(logPath, echo) {
    this.chunks = [];
    this.size = 0;
    this.dropped = 0;
    this.file = createWriteStream(logPath);
    this.logPath = logPath;
    this.echo = echo;
  }

  push(stream, data) {
    this.file.write(data);
    if (this.echo) process.stderr.write(data);
    this.chunks.push(data);
    this.size += data.length;
    while (this.size > OUTPUT_KEEP_BYTES && this.chunks.length > 1) {
      const c = this.chunks.shift();
      this.size -= c.length;
      this.dropped += c.length;
    }
  }

  text() {
    const body = Buffer.concat(this.chunks).toString('utf8');
    return this.dropped ? `[... ${this.dropped} earlier bytes in ${this.logPath}]\n${body}` : body;
  }

  close() {
    return new Promise((res) => this.file.end(res));
  }
}

// Gateways whose log directory is still on disk.
const logsLeft = new Set();
process.on('exit', (code) => {
  if (code !== 0 || process.env.OCPP_TEST_KEEP_LOGS === '1') return;
  for (const gw of logsLeft) {
    if (!gw.failed) rmSync(dirname(gw.logPath), { recursive: true, force: true });
  }
});

export class Gateway {
  constructor({ child, port, adminPort, gatewayId, brokers, args, output }) {
    this.child = child;
    this.port = port;
    this.adminPort = adminPort;
    this.gatewayId = gatewayId;
    this.brokers = brokers;
    this.args = args;
    this._output = output;
    this.exitInfo = null;
    this.failed = false;      // set when a test using this gateway failed: keep the log
    this.exited = new Promise((res) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        res(this.exitInfo);
      });
    });
  }

  /** ws://127.0.0.1:<port>/ocpp/<stationId> (stationId is used verbatim). */
  wsUrl(stationId) {
    return `ws://127.0.0.1:${this.port}/ocpp/${stationId}`;
  }

  /** ws://127.0.0.1:<port>/ocpp, the endpoint an OCPP client appends its identity to. */
  get endpoint() {
    return `ws://127.0.0.1:${this.port}/ocpp`;
  }

  /** ws://127.0.0.1:<port><path> for handshake tests on arbitrary paths. */
  wsPath(path) {
    return `ws://127.0.0.1:${this.port}${path}`;
  }

  adminUrl(path) {
    return `http://127.0.0.1:${this.adminPort}${path}`;
  }

  get logPath() {
    return this._output.logPath;
  }

  /** Everything the gateway wrote to stdout and stderr so far (tail if very long). */
  output() {
    return this._output.text();
  }

  /**
   * Waits until the output matches `pattern`: a line logged together with a metric or a record
   * may reach this process after them (another pipe). Throws after `timeoutMs`.
   */
  async waitForOutput(pattern, timeoutMs = 10_000) {
    try {
      await until(() => pattern.test(this.output()), timeoutMs, `${this.gatewayId} logging ${pattern}`);
    } catch (err) {
      err.message += `\n--- gateway output ---\n${this.outputTail()}`;
      throw err;
    }
  }

  /** The last `lines` lines of the output, for failure reports. */
  outputTail(lines = 200) {
    const all = this.output().split('\n');
    const tail = all.slice(-lines).join('\n');
    return all.length > lines ? `[... ${all.length - lines} earlier lines; full log: ${this.logPath}]\n${tail}` : tail;
  }

  get running() {
    return this.exitInfo === null;
  }

  /** The gateway's process id (e.g. for /proc/<pid>/status). */
  get pid() {
    return this.child.pid;
  }

  /**
   * Sends SIGTERM and returns at once, for tests that watch the drain;
   * `stop()` afterwards waits for the exit and checks it as usual.
   */
  terminate() {
    if (!this.running) return;
    this.terminatedAt ??= Date.now();
    this.child.kill('SIGTERM');
  }

  /** Waits until `path` answers 200: /readyz (ready) or /healthz (alive, e.g. still waiting for Kafka). */
  async waitReady(timeoutMs = READY_TIMEOUT_MS, path = '/readyz') {
    const deadline = Date.now() + timeoutMs;
    const stop = new AbortController();
    let last = 'no answer yet';
    const exited = this.exited.then((info) => { stop.abort(); return info; });
    try {
      while (Date.now() < deadline) {
        if (!this.running) break;
        try {
          const r = await httpGet(this.adminUrl(path), Math.min(2_000, Math.max(1, deadline - Date.now())));
          if (r.status === 200) return;
          last = `HTTP ${r.status}`;
        } catch (err) {
          last = err.code || err.message;
        }
        // Poll interval of the readiness probe (not a stand-in for an event:
        // readiness is only observable by asking).
        await delay(100, stop.signal);
      }
    } finally {
      stop.abort();
    }
    if (!this.running) {
      const info = await exited;
      throw new Error(`gateway exited before it was ready (code ${info.code}, signal ${info.signal})`);
    }
    throw new Error(`gateway not ready within ${timeoutMs} ms (last ${path}: ${last})`);
  }

  /**
   * SIGTERM, then wait for the exit. After `timeoutMs` the process is killed
   * with SIGKILL and an error is thrown. Resolves {code, signal}; throws too
   * when the process did not end cleanly (exit code != 0 and not ended by the
   * SIGTERM itself).
   */
  async stop(timeoutMs = STOP_TIMEOUT_MS) {
    const wasRunning = this.running || this.terminatedAt !== undefined;
    if (this.running) {
      this.child.kill('SIGTERM');
      let timer;
      const timedOut = await Promise.race([
        this.exited.then(() => false),
        new Promise((res) => { timer = setTimeout(() => res(true), timeoutMs); }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        this.child.kill('SIGKILL');
        await this.exited;
        await this._output.close();
        throw new Error(`gateway did not exit within ${timeoutMs} ms of SIGTERM; killed with SIGKILL\n--- gateway output ---\n${this.outputTail()}`);
      }
    }
    const info = await this.exited;
    await this._output.close();
    const clean = info.code === 0 || (info.code === null && info.signal === 'SIGTERM');
    if (!wasRunning) {
      throw new Error(`gateway had already exited before it was stopped (exit code ${info.code}, signal ${info.signal})\n--- gateway output ---\n${this.outputTail()}`);
    }
    if (!clean) {
      throw new Error(`gateway did not shut down cleanly after SIGTERM (exit code ${info.code}, signal ${info.signal})\n--- gateway output ---\n${this.outputTail()}`);
    }
    this._removeLog();
    return info;
  }

  /**
   * For a gateway a test ended on purpose (killed, say): kills it if it still runs, waits for
   * the exit, closes the log and removes it unless a test failed. Never throws.
   */
  async discard() {
    this.kill();
    await this.exited;
    await this._output.close();
    this._removeLog();
  }

  _removeLog() {
    if (!this.failed && process.env.OCPP_TEST_KEEP_LOGS !== '1') {
      rmSync(dirname(this.logPath), { recursive: true, force: true });
      logsLeft.delete(this);
    }
  }

  /** Last resort for cleanup paths: kill at once, never throws. */
  kill() {
    if (this.running) this.child.kill('SIGKILL');
  }
}

/**
 * Starts the gateway on free loopback ports and waits until /readyz says 200 (`waitFor`
 * '/healthz': until the process is alive, ready or not). On failure the process is killed and
 * the error carries its output.
 */
export async function startGateway({ gatewayId = `it-gw-${randomHex(4)}`, brokers = KAFKA_BROKERS, extraArgs = [], env = {}, readyTimeoutMs = READY_TIMEOUT_MS, waitFor = '/readyz' } = {}) {
  try {
    accessSync(GATEWAY_BIN, fsConstants.X_OK);
  } catch {
    throw new Error(`gateway executable not found or not executable: ${GATEWAY_BIN} (build it, or set OCPP_GATEWAY_BIN)`);
  }
  const [port, adminPort] = await freePorts(2);
  const envArgs = (process.env.OCPP_TEST_GATEWAY_ARGS || '').split(' ').filter(Boolean);
  const args = [
    '--listen', `127.0.0.1:${port}`,
    '--admin-listen', `127.0.0.1:${adminPort}`,
    '--kafka-brokers', brokers,
    '--gateway-id', gatewayId,
    ...envArgs,
    ...extraArgs,
  ];
  const logDir = mkdtempSync(join(tmpdir(), 'ocpp-interop-'));
  const output = new OutputBuffer(join(logDir, `${gatewayId}.log`), process.env.OCPP_TEST_GATEWAY_ECHO === '1');
  // OCPP_GATEWAY_BIN shares the gateway's own OCPP_GATEWAY_* configuration
  // prefix; it is this harness's setting, so it is not passed on.
  const childEnv = { ...process.env, ...env };
  delete childEnv.OCPP_GATEWAY_BIN;
  const child = spawn(GATEWAY_BIN, args, {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d) => output.push('stdout', d));
  child.stderr.on('data', (d) => output.push('stderr', d));
  const spawnError = new Promise((_, reject) => child.once('error', reject));
  spawnError.catch(() => {});
  const gw = new Gateway({ child, port, adminPort, gatewayId, brokers, args, output });
  logsLeft.add(gw);
  // Safety net: never leave the gateway behind if this process exits early.
  const onExit = () => gw.kill();
  process.once('exit', onExit);
  gw.exited.then(() => process.off('exit', onExit));
  try {
    await Promise.race([gw.waitReady(readyTimeoutMs, waitFor), spawnError]);
  } catch (err) {
    gw.kill();
    await Promise.race([gw.exited, delay(5_000)]);
    await output.close();
    const tail = gw.outputTail();
    // A start that fails is often what a test expects; the error carries the output, so the
    // log file goes unless the output was too long for it.
    if (!gw.running && !tail.startsWith('[... ')) gw._removeLog();
    err.message += `\ncommand: ${GATEWAY_BIN} ${args.join(' ')}\n--- gateway output ---\n${tail}`;
    throw err;
  }
  return gw;
}

/**
 * startGateway() with a configuration file of `yaml` lines (settings such as admin.test_hooks
 * exist only in a file). Returns the gateway, with `stopAndClean()` that stops it and removes
 * the file.
 */
export async function startGatewayWithConfig(yaml, options = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'ocpp-config-'));
  const config = join(dir, 'gateway.yaml');
  writeFileSync(config, [...yaml, ''].join('\n'));
  let gw;
  try {
    gw = await startGateway({ ...options, extraArgs: ['--config', config, ...(options.extraArgs ?? [])] });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  gw.stopAndClean = async () => {
    try {
      await gw.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  return gw;
}

/**
 * Wraps a test function so that, when it fails, the gateway's output is
 * written to stderr next to the test's name.
 */
export function withGatewayLog(getGateway, fn) {
  return async (t) => {
    try {
      return await fn(t);
    } catch (err) {
      const gw = typeof getGateway === 'function' ? getGateway() : getGateway;
      if (gw) {
        gw.failed = true;
        const tail = gw.outputTail();
        const block = `--- gateway output (${gw.gatewayId}, pid ${gw.child.pid}${gw.running ? '' : `, exited ${JSON.stringify(gw.exitInfo)}`}) ---\n${tail}\n--- end of gateway output ---`;
        process.stderr.write(`\n[${t?.name ?? 'test'}] failed; ${block}\n`);
      }
      throw err;
    }
  };
}
