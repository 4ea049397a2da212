// Cumulo's Node.js runtime: a Lambda Runtime API client for nodejs*.x functions.
//
// Loads the handler named by _HANDLER ("dir/file.export", CommonJS .js/.cjs or ESM
// .mjs/.js under "type": "module"), supports async and callback handlers, builds the
// context object, and formats console output as AWS's Node runtime does:
// "<ISO time>\t<request id>\t<LEVEL>\t<message>".  Errors carry AWS's types and messages
// (Runtime.ImportModuleError, Runtime.HandlerNotFound, Runtime.UserCodeSyntaxError, ...).
// Log lines go to the framed telemetry log fd the agent provides (AWS's protocol).
// Handlers wrapped in awslambda.streamifyResponse stream their response through the Runtime
// API's streaming mode (chunked, trailers for errors), as AWS's Node.js runtime does.

import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import util from "node:util";
import { Writable } from "node:stream";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
const PREFIX = "/2018-06-01/runtime/";
const telemetryFd = Number(process.env._LAMBDA_TELEMETRY_LOG_FD);
delete process.env._LAMBDA_TELEMETRY_LOG_FD;
const RUNTIME_FILE = path.join(process.env.LAMBDA_RUNTIME_DIR || "/var/runtime", "index.mjs");

let currentRequestId;

// --- logging -------------------------------------------------------------------------------
function writeLog(message) {
  const body = Buffer.from(message, "utf8");
  const head = Buffer.alloc(16);
  head.writeUInt32BE(0xa55a0003, 0);
  head.writeUInt32BE(body.length, 4);
  head.writeBigUInt64BE(BigInt(Date.now()) * 1000n, 8);
  fs.writeSync(telemetryFd, Buffer.concat([head, body]));
}

function logLine(level, args) {
  writeLog(`${new Date().toISOString()}\t${currentRequestId}\t${level}\t${util.format(...args)}`);
}

console.log = (...a) => logLine("INFO", a);
console.info = (...a) => logLine("INFO", a);
console.warn = (...a) => logLine("WARN", a);
console.error = (...a) => logLine("ERROR", a);
console.debug = (...a) => logLine("DEBUG", a);
console.trace = (...a) => logLine("TRACE", a);
console.fatal = (...a) => logLine("FATAL", a);

// --- errors --------------------------------------------------------------------------------
class UserError extends Error {
  constructor(name, message, original) {
    super(message);
    this.name = name;
    if (original && original.stack) this.stack = `${name}: ${message}\n` + original.stack.split("\n").slice(1).join("\n");
  }
}

function toErrorResponse(err) {
  if (err instanceof Error) {
    return { errorType: err.name || "Error", errorMessage: err.message, trace: String(err.stack || "").split("\n") };
  }
  return { errorType: typeof err, errorMessage: String(err), trace: [] };
}

function logError(label, response) {
  const { trace, ...rest } = response;
  logLine("ERROR", [`${label} \t${JSON.stringify({ ...rest, stack: trace })}`]);
}

// --- Runtime API -----------------------------------------------------------------------------
// A minimal keep-alive HTTP/1.1 client on one socket: requests are written back to back and
// responses matched in order, so a result and the next GET go out in one write (pipelining).
class RuntimeClient {
  constructor() {
    this.sock = null;
    this.buf = Buffer.alloc(0);
    this.waiters = [];
  }

  connect() {
    if (this.sock) return;
    const sock = net.connect({ host, port: Number(port) });
    sock.setNoDelay(true);
    sock.on("data", (data) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
      this.pump();
    });
    sock.on("error", () => {});
    sock.on("close", () => {
      if (this.sock === sock) this.sock = null;
      const waiters = this.waiters;
      this.waiters = [];
      this.buf = Buffer.alloc(0);
      for (const w of waiters) w.reject(new Error("Runtime API connection closed"));
    });
    this.sock = sock;
  }

  pump() {
    while (this.waiters.length) {
      const end = this.buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const lines = this.buf.subarray(0, end).toString("latin1").split("\r\n");
      const headers = {};
      for (const line of lines.slice(1)) {
        const i = line.indexOf(":");
        headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      const length = Number(headers["content-length"] || 0);
      if (this.buf.length < end + 4 + length) return;
      const body = this.buf.subarray(end + 4, end + 4 + length);
      this.buf = this.buf.subarray(end + 4 + length);
      this.waiters.shift().resolve({ status: Number(lines[0].split(" ")[1]), headers, body });
    }
  }

  static encode(method, p, body = "", headers = {}) {
    const payload = Buffer.isBuffer(body) ? body : Buffer.from(body, "utf8");
    let head = `${method} ${PREFIX}${p} HTTP/1.1\r\nHost: runtime\r\nContent-Length: ${payload.length}\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    return Buffer.concat([Buffer.from(head + "\r\n", "latin1"), payload]);
  }

  // Send requests in one write; resolves with the last response (a dropped connection is retried once).
  async exchange(requests, retry = true) {
    this.connect();
    const promises = requests.map(() => new Promise((resolve, reject) => this.waiters.push({ resolve, reject })));
    this.sock.write(Buffer.concat(requests));
    try {
      const responses = await Promise.all(promises);
      return responses[responses.length - 1];
    } catch (e) {
      if (!retry) throw e;
      return this.exchange(requests, false);
    }
  }

  next() {
    return this.exchange([RuntimeClient.encode("GET", "invocation/next")]);
  }

  post(p, body, headers) {
    return this.exchange([RuntimeClient.encode("POST", p, body, headers)]);
  }

  postThenNext(p, body, headers) {
    return this.exchange([RuntimeClient.encode("POST", p, body, headers), RuntimeClient.encode("GET", "invocation/next")]);
  }
}

const client = new RuntimeClient();

function errorRequest(response) {
  return [JSON.stringify(response), {
    "Content-Type": "application/json",
    "Lambda-Runtime-Function-Error-Type": response.errorType,
  }];
}

function postError(p, response) {
  return client.post(p, ...errorRequest(response));
}

// --- response streaming ----------------------------------------------------------------------
const STREAMING = Symbol.for("aws.lambda.runtime.handler.streaming");
const HTTP_INTEGRATION = "application/vnd.awslambda.http-integration-response";

// The responseStream a streaming handler writes to: a chunked POST on a connection of its own,
// whose head goes out with the first bytes (so setContentType can come first).
class ResponseStream extends Writable {
  constructor(id) {
    super();
    this.id = id;
    this.contentType = "application/octet-stream";
    this.sock = null;
    this.reply = null;
  }

  setContentType(type) {
    if (this.sock) throw new Error("the content type cannot change once the response has started");
    this.contentType = type;
  }

  open() {
    if (this.sock) return;
    const sock = net.connect({ host, port: Number(port) });
    sock.setNoDelay(true);
    this.reply = new Promise((resolve, reject) => {
      let buf = Buffer.alloc(0);
      sock.on("data", (d) => {
        buf = Buffer.concat([buf, d]);
        if (buf.indexOf("\r\n\r\n") >= 0) resolve(Number(buf.toString("latin1").split(" ")[1]));
      });
      sock.on("error", reject);
      sock.on("close", () => reject(new Error("Runtime API connection closed")));
    });
    this.reply.catch(() => {});
    sock.write(`POST ${PREFIX}invocation/${this.id}/response HTTP/1.1\r\nHost: runtime\r\n` +
      "Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n" +
      "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n" +
      `Content-Type: ${this.contentType}\r\n\r\n`);
    this.sock = sock;
  }

  _write(chunk, encoding, callback) {
    this.open();
    if (!chunk.length) return callback();
    this.sock.write(Buffer.concat([Buffer.from(chunk.length.toString(16) + "\r\n"), chunk, Buffer.from("\r\n")]),
      () => callback());
  }

  // The last chunk, with the error trailers when the handler failed after the response began.
  async finish(errorResponse) {
    this.open();
    let trailers = "";
    if (errorResponse) {
      trailers = `Lambda-Runtime-Function-Error-Type: ${errorResponse.errorType}\r\n` +
        `Lambda-Runtime-Function-Error-Body: ${Buffer.from(JSON.stringify(errorResponse)).toString("base64")}\r\n`;
    }
    this.sock.write(`0\r\n${trailers}\r\n`);
    try {
      await this.reply;
    } finally {
      this.sock.destroy();
    }
  }
}

globalThis.awslambda = {
  streamifyResponse(handler) {
    handler[STREAMING] = true;
    return handler;
  },
  HttpResponseStream: {
    // Status, headers and cookies first (JSON, then eight NUL bytes), as function URLs read them.
    from(stream, metadata) {
      stream.setContentType(HTTP_INTEGRATION);
      stream.write(Buffer.concat([Buffer.from(JSON.stringify(metadata || {})), Buffer.alloc(8)]));
      return stream;
    },
  },
};

// Run a streaming handler: it resolves (or calls back) when done; an unended stream is ended then.
async function runStreaming(handler, event, headers, id) {
  const stream = new ResponseStream(id);
  const ended = new Promise((resolve) => stream.on("finish", resolve));
  let failure = null;
  try {
    const ctx = makeContext(headers, () => {});
    await handler(event, stream, ctx);
    if (!stream.writableFinished) {
      if (!stream.writableEnded) stream.end();
      await ended;
    }
  } catch (e) {
    failure = e;
  }
  if (failure && !stream.sock) return { err: failure }; // nothing sent yet: an ordinary error
  await stream.finish(failure ? toErrorResponse(failure) : null);
  if (failure) logError("Invoke Error", toErrorResponse(failure));
  return { streamed: true };
}

// --- handler loading -------------------------------------------------------------------------
async function loadHandler(spec) {
  const taskRoot = process.env.LAMBDA_TASK_ROOT;
  const slash = spec.lastIndexOf("/");
  const dot = spec.indexOf(".", slash + 1);
  if (dot < 0) throw new UserError("Runtime.MalformedHandlerName", "Bad handler");
  const modulePath = spec.slice(0, dot);
  const names = spec.slice(dot + 1).split(".");
  const base = path.resolve(taskRoot, modulePath);
  const file = [".js", ".mjs", ".cjs"].map((e) => base + e).find((f) => fs.existsSync(f));
  if (!file) {
    throw new UserError("Runtime.ImportModuleError",
      `Error: Cannot find module '${modulePath}'\nRequire stack:\n- ${RUNTIME_FILE}`);
  }
  let mod;
  try {
    if (file.endsWith(".mjs")) {
      mod = await import(pathToFileURL(file).href);
    } else {
      try {
        mod = createRequire(RUNTIME_FILE)(file);
      } catch (e) {
        if (e && e.code === "ERR_REQUIRE_ESM") mod = await import(pathToFileURL(file).href);
        else throw e;
      }
    }
  } catch (e) {
    if (e instanceof SyntaxError) throw new UserError("Runtime.UserCodeSyntaxError", `${e.name}: ${e.message}`, e);
    if (e && e.code === "MODULE_NOT_FOUND") throw new UserError("Runtime.ImportModuleError", `Error: ${e.message}`, e);
    throw e;
  }
  let fn = mod;
  for (const n of names) fn = fn == null ? undefined : fn[n];
  if (fn === undefined && mod && mod.default) {
    fn = mod.default;
    for (const n of names) fn = fn == null ? undefined : fn[n];
  }
  if (typeof fn !== "function") {
    throw new UserError("Runtime.HandlerNotFound", `${modulePath}.${names.join(".")} is undefined or not exported`);
  }
  return fn;
}

// --- context ---------------------------------------------------------------------------------
function makeContext(headers, onDone) {
  const deadline = Number(headers["lambda-runtime-deadline-ms"]);
  const parse = (v) => (v ? JSON.parse(v) : undefined);
  const ctx = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers["lambda-runtime-aws-request-id"],
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: parse(headers["lambda-runtime-cognito-identity"]),
    clientContext: parse(headers["lambda-runtime-client-context"]),
    getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
    done: (err, result) => onDone(err, result),
    succeed: (result) => onDone(null, result),
    fail: (err) => onDone(err || "handled"),
  };
  return ctx;
}

function runHandler(handler, event, headers) {
  return new Promise((resolve) => {
    let finished = false;
    const done = (err, result) => {
      if (finished) return;
      finished = true;
      resolve(err !== null && err !== undefined ? { err } : { result });
    };
    const ctx = makeContext(headers, done);
    try {
      const out = handler(event, ctx, done);
      if (out && typeof out.then === "function") out.then((r) => done(null, r), (e) => done(e ?? new Error("undefined")));
      else if (handler.length < 3) done(null, out);
    } catch (e) {
      done(e);
    }
  });
}

// --- main loop -------------------------------------------------------------------------------
let inFlight = null;

process.on("uncaughtException", async (err) => {
  const response = toErrorResponse(err);
  logError("Uncaught Exception", response);
  if (inFlight) await postError(`invocation/${inFlight}/error`, response).catch(() => {});
  process.exit(129);
});
process.on("unhandledRejection", async (reason) => {
  const err = new UserError("Runtime.UnhandledPromiseRejection",
    `${reason instanceof Error ? reason.name + ": " + reason.message : String(reason)}`, reason);
  const response = toErrorResponse(err);
  logError("Unhandled Promise Rejection", response);
  if (inFlight) await postError(`invocation/${inFlight}/error`, response).catch(() => {});
  process.exit(128);
});

let handler;
try {
  handler = await loadHandler(process.env._HANDLER || "");
} catch (e) {
  const response = toErrorResponse(e);
  logError("Uncaught Exception", response);
  await postError("init/error", response);
  process.exit(129);
}

let pending = null; // the previous event's result, sent together with the next GET
for (;;) {
  const { headers, body } = pending ? await client.postThenNext(...pending) : await client.next();
  const id = headers["lambda-runtime-aws-request-id"];
  currentRequestId = id;
  inFlight = id;
  if (headers["lambda-runtime-trace-id"]) process.env._X_AMZN_TRACE_ID = headers["lambda-runtime-trace-id"];
  else delete process.env._X_AMZN_TRACE_ID;
  let event;
  try {
    event = body.length ? JSON.parse(body.toString("utf8")) : undefined;
  } catch (e) {
    event = body.toString("utf8");
  }
  const outcome = handler[STREAMING] ? await runStreaming(handler, event, headers, id)
    : await runHandler(handler, event, headers);
  inFlight = null;
  if (outcome.streamed) {
    pending = null;
    continue;
  }
  if ("err" in outcome) {
    const response = toErrorResponse(outcome.err);
    logError("Invoke Error", response);
    pending = [`invocation/${id}/error`, ...errorRequest(response)];
    continue;
  }
  try {
    const payload = JSON.stringify(outcome.result === undefined ? null : outcome.result);
    pending = [`invocation/${id}/response`, payload, { "Content-Type": "application/json" }];
  } catch (e) {
    const response = { errorType: "Runtime.MarshalError", errorMessage: `Unable to stringify response body: ${e.message}`, trace: [] };
    logError("Invoke Error", response);
    pending = [`invocation/${id}/error`, ...errorRequest(response)];
  }
}
