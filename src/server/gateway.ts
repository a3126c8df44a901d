/**
 * etcd's JSON gateway, /health, /version and /metrics on the client port (HTTP/1.1).
 *
 * Every gateway route goes through the same MethodTable handler that gRPC and the native
 * protocol call: JSON body -> request message (fromJson) -> protobuf bytes -> handler ->
 * response bytes -> message -> JSON (toJson). So the gateway cannot drift from the other
 * transports in behaviour; only the encoding differs.
 *
 * Unary routes answer one JSON object, or etcd's gateway error body
 * {"error":m,"message":m,"code":grpcCode} with the HTTP status grpc-gateway v1 maps the code to.
 * Streaming routes (/v3/watch, /v3/lease/keepalive) read a body of concatenated JSON requests
 * and answer newline-delimited {"result":...} objects until the call ends or the client leaves.
 */
import type * as http from 'node:http';
import { gatewayErrorBody, gatewayRoutes, fromJson, toJson, type MethodDef } from '../proto/index.js';
import { HttpRouter, JsonObjectSplitter, JsonStreamWriter, writeJson, type HttpRequest, GATEWAY_HEADERS } from '../net/http1.js';
import { CallContextImpl, type MethodTable, type ServerStream } from '../net/methods.js';
import { Status, StatusError, httpStatusFromCode, statusFromError, type StatusCode } from '../net/status.js';
import { netStreamInboundMessagesMax } from '../limits.js';
import type { EtcdServer } from './server.js';
import { versionsBody } from './cluster_version.js';
import { METRICS_CONTENT_TYPE } from './metrics.js';
import { scrapeServerMetrics } from './server_metrics.js';

const WATCH_PATH = '/etcdserverpb.Watch/Watch';

/** Registers the gateway's routes plus /health, /version and /metrics on router. */
export function registerGateway(router: HttpRouter, methods: MethodTable, server: EtcdServer): HttpRouter {
  for (const [path, def] of gatewayRoutes) {
    const entry = methods.get(def.path);
    if (entry === undefined) continue; // not served by this member: 404 like an unknown path
    if (entry.kind === 'unary') {
      const handler = entry.handler;
      router.route('POST', path, async (req, res) => {
        try {
          const msg = fromJson(def.requestType, req.body.toString('utf8'));
          const ctx = new CallContextImpl(def.path, 'http', undefined, peerOf(req), metadataOf(req));
          // A client that hangs up cancels the call (a waiting /v3/lock/lock then removes its key).
          res.once('close', () => {
            if (!res.writableEnded) ctx.abort(new StatusError(Status.CANCELLED, 'context canceled'));
          });
          const out = await handler(def.path, def.requestType.encode(msg), ctx);
          writeJson(res, 200, toJson(def.responseType, def.responseType.decode(out)));
        } catch (err) {
          writeGatewayError(res, err);
        }
      });
    } else {
      const handler = entry.handler;
      router.route('POST', path, (req, res) => serveStream(req, res, def, (s) => handler(def.path, s)), { streamBody: true });
    }
  }
  router.route('GET', '/health', (_req, res) => {
    const h = health(server);
    res.writeHead(h.ok ? 200 : 503, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(h.body);
  });
  router.route('GET', '/version', (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    // The cluster version is the one applied through Raft ("not_decided" before it), as etcd's.
    res.end(versionsBody(server));
  });
  router.route('GET', '/metrics', (_req, res) => {
    const body = scrapeServerMetrics(server);
    res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE });
    res.end(body);
  });
  return router;
}

/**
 * etcd 3.4's /health: false when an alarm is raised or no leader is known (the QGET probe etcd
 * also does goes through the same leader, so a known leader is the part we can check locally).
 */
function health(s: EtcdServer): { ok: boolean; body: string } {
  let reason = '';
  const alarms = s.alarmList();
  if (alarms.length > 0) reason = 'ALARM ' + alarms.map((a) => (a.alarm === 1 ? 'NOSPACE' : a.alarm === 2 ? 'CORRUPT' : 'NONE')).join(' ');
  else if (s.leader === 0n) reason = 'RAFT NO LEADER';
  const ok = reason === '';
  return { ok, body: JSON.stringify({ health: ok ? 'true' : 'false' }) + (ok ? '' : '\n') };
}

function peerOf(req: HttpRequest): string {
  const sock = req.raw.socket;
  return `${sock.remoteAddress ?? ''}:${sock.remotePort ?? 0}`;
}

/** grpc-gateway forwards Authorization as gRPC metadata; etcd's auth reads "token" or "authorization". */
function metadataOf(req: HttpRequest): Record<string, string | string[] | undefined> {
  const auth = req.headers['authorization'];
  return auth === undefined ? {} : { authorization: auth, token: auth };
}

function writeGatewayError(res: http.ServerResponse, err: unknown): void {
  const st = errorStatus(err);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(httpStatusFromCode(st.code), { ...GATEWAY_HEADERS, 'Content-Type': 'application/json' });
  res.end(gatewayErrorBody(st.code, st.message));
}

/** A JSON body that does not decode is the client's fault: INVALID_ARGUMENT, as the gateway answers. */
function errorStatus(err: unknown): { code: StatusCode; message: string } {
  const code = err instanceof Error ? (err as { code?: string }).code : undefined;
  if (err instanceof Error && (code === 'ERR_PROTO_JSON' || code === 'ERR_JSON_STREAM')) return { code: Status.INVALID_ARGUMENT, message: err.message };
  return statusFromError(err);
}

/**
 * One streaming gateway call: the request body is split into JSON objects as it arrives, each
 * decoded and handed to the handler as a stream message; every message the handler sends is
 * written as {"result":...}. The end of the body is the client's half-close.
 */
async function serveStream(req: HttpRequest, res: http.ServerResponse, def: MethodDef, run: (s: ServerStream) => Promise<void>): Promise<void> {
  const writer = new JsonStreamWriter(res);
  const ctx = new CallContextImpl(def.path, 'http', undefined, peerOf(req), metadataOf(req));
  const inbound: Array<Uint8Array | undefined | Error> = [];
  let waiter: ((v: Uint8Array | undefined | Error) => void) | undefined;
  let over = false;
  const push = (v: Uint8Array | undefined | Error): void => {
    if (waiter !== undefined) {
      const w = waiter;
      waiter = undefined;
      w(v);
    } else inbound.push(v);
  };
  const cancelled = new StatusError(Status.CANCELLED, 'context canceled');
  writer.signal.addEventListener('abort', () => {
    ctx.abort(cancelled);
    push(cancelled);
  });
  const splitter = new JsonObjectSplitter((json) => push(def.requestType.encode(fromJson(def.requestType, json))));
  let bodyFailed = false;
  req.raw.on('data', (chunk: Buffer) => {
    if (bodyFailed) return; // the rest of a bad body is read and dropped, so the error answer still gets out
    try {
      splitter.push(chunk);
    } catch (err) {
      bodyFailed = true;
      const st = errorStatus(err);
      push(new StatusError(st.code, st.message));
      return;
    }
    // Backpressure: a handler slower than its client stops the body being read.
    if (inbound.length >= netStreamInboundMessagesMax) req.raw.pause();
  });
  // etcd's watch server ignores the client's half-close (its recvLoop returns on EOF and the
  // stream lives until the context ends), so through the gateway a watch keeps sending events
  // after the request body ended, until the HTTP client goes away. etsd's watch handler ends
  // on half-close, so for Watch the end of the body is not passed on.
  const holdHalfClose = def.path === WATCH_PATH;
  req.raw.on('end', () => {
    if (bodyFailed) return;
    if (!splitter.idle) push(new StatusError(Status.INVALID_ARGUMENT, 'unexpected EOF'));
    else if (!holdHalfClose) push(undefined);
  });
  const stream: ServerStream = {
    ctx,
    recv: async () => {
      if (req.raw.isPaused() && inbound.length < netStreamInboundMessagesMax) req.raw.resume();
      const v = inbound.length > 0 ? inbound.shift() : await new Promise<Uint8Array | undefined | Error>((r) => (waiter = r));
      if (v instanceof Error) {
        inbound.unshift(v); // every later recv fails the same way
        throw v;
      }
      return v;
    },
    send: async (message) => {
      if (over) throw cancelled;
      await writer.result(toJson(def.responseType, def.responseType.decode(message)));
    },
    [Symbol.asyncIterator]() {
      return {
        next: async () => {
          const value = await stream.recv();
          return value === undefined ? { done: true, value: undefined } : { done: false, value };
        },
      };
    },
  };
  try {
    await run(stream);
    over = true;
    writer.end();
  } catch (err) {
    over = true;
    const st = errorStatus(err);
    writer.error(st.code, st.message);
  }
}
