/**
 * HTTP/1.1 on the client port: a route table for etcd's JSON gateway and /health, /version,
 * /metrics (the server registers those), body-size and body-time limits, etcd's JSON error
 * shape, and a writer for streamed JSON responses (/v3/watch and the other streaming routes).
 *
 * The gateway's conventions (grpc-gateway v1 inside etcd 3.4):
 * - routes are POST; another method on a known path is 405, an unknown path 404, OPTIONS 200;
 * - errors: HTTP status from the gRPC code, body {"error": msg, "code": n, "message": msg};
 * - streams: newline-delimited {"result": ...} objects, flushed one by one.
 */
import * as http from 'node:http';
import { EtsdError } from '../util/errors.js';
import { httpBodyBytesMax, httpBodyTimeoutMs, httpHeaderBytesMax, httpHeadersTimeoutMs, httpStreamObjectsMax } from '../limits.js';
import { Status, httpStatusFromCode, statusFromError, type StatusCode } from './status.js';

export interface HttpRequest {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: http.IncomingHttpHeaders;
  /** The whole body (buffered routes); empty for streaming routes, which read `raw`. */
  readonly body: Buffer;
  readonly raw: http.IncomingMessage;
}

export type HttpHandler = (req: HttpRequest, res: http.ServerResponse) => void | Promise<void>;

export interface RouteOptions {
  /** Hand the body to the handler unread (req.raw), for streaming gateway calls. */
  streamBody?: boolean;
  bodyBytesMax?: number;
}

interface Route {
  handler: HttpHandler;
  opts: RouteOptions;
}

/** Gateway CORS headers etcd sends on every gateway answer. */
export const GATEWAY_HEADERS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'POST, GET, OPTIONS, PUT, DELETE',
  'Access-Control-Allow-Headers': 'accept, content-type, authorization',
};

export class HttpRouter {
  private readonly routes = new Map<string, Map<string, Route>>();

  /** Registers handler for method on an exact path. */
  route(method: string, path: string, handler: HttpHandler, opts: RouteOptions = {}): this {
    let byMethod = this.routes.get(path);
    if (byMethod === undefined) {
      byMethod = new Map();
      this.routes.set(path, byMethod);
    }
    if (byMethod.has(method)) throw new EtsdError('ERR_ROUTE_TABLE', `route ${method} ${path} registered twice`);
    byMethod.set(method, { handler, opts });
    return this;
  }

  /** node:http request listener. */
  readonly listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    this.dispatch(req, res).catch((err: unknown) => {
      const st = statusFromError(err);
      if (!res.headersSent) writeJsonError(res, st.code, st.message);
      else res.destroy();
    });
  };

  private async dispatch(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method ?? 'GET';
    const byMethod = this.routes.get(path);
    if (byMethod === undefined) return writeText(res, 404, 'Not Found');
    const route = byMethod.get(method);
    if (route === undefined) {
      if (method === 'OPTIONS') {
        res.writeHead(200, GATEWAY_HEADERS).end();
        return;
      }
      return writeText(res, 405, 'Method Not Allowed');
    }
    let body: Buffer = EMPTY;
    if (!route.opts.streamBody) {
      const read = await readBody(req, route.opts.bodyBytesMax ?? httpBodyBytesMax);
      if (typeof read === 'number') {
        // Answer, then close: the rest of the body is read and dropped (bounded by
        // httpBodyTimeoutMs) so the client sees the 413 instead of a reset.
        res.setHeader('Connection', 'close');
        writeJsonError(res, Status.RESOURCE_EXHAUSTED, `http: request body too large (limit ${read} bytes)`, 413);
        req.resume();
        setTimeout(() => req.destroy(), httpBodyTimeoutMs).unref();
        return;
      }
      if (read === undefined) return; // client went away or was too slow
      body = read;
    }
    const request: HttpRequest = { method, path, query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)), headers: req.headers, body, raw: req };
    await route.handler(request, res);
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Reads a whole body, refusing from Content-Length alone when it is over the limit and
 * counting chunked bodies as they come. Returns the limit (number) when it was exceeded and
 * undefined when the client vanished or took longer than httpBodyTimeoutMs.
 */
function readBody(req: http.IncomingMessage, max: number): Promise<Buffer | number | undefined> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > max) return Promise.resolve(max);
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (v: Buffer | number | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(v);
    };
    const timer = setTimeout(() => {
      settle(undefined);
      req.destroy();
    }, httpBodyTimeoutMs);
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        parts.length = 0;
        settle(max);
        return;
      }
      parts.push(chunk);
    });
    req.on('end', () => settle(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, size)));
    req.on('error', () => settle(undefined));
    req.on('close', () => settle(undefined));
  });
}

export function writeText(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end(text + '\n');
}

/** A JSON body with the gateway's headers. `json` is already serialised (int64 as strings is the caller's job). */
export function writeJson(res: http.ServerResponse, status: number, json: string): void {
  res.writeHead(status, { ...GATEWAY_HEADERS, 'Content-Type': 'application/json', 'Grpc-Metadata-Content-Type': 'application/grpc' });
  res.end(json);
}

/** etcd's gateway error: {"error": msg, "code": n, "message": msg}, HTTP status from the code. */
export function writeJsonError(res: http.ServerResponse, code: StatusCode, message: string, httpStatus = httpStatusFromCode(code)): void {
  const body = JSON.stringify({ error: message, code, message });
  res.writeHead(httpStatus, { ...GATEWAY_HEADERS, 'Content-Type': 'application/json' });
  res.end(body);
}

/**
 * A streamed JSON response: one object per line, each flushed as written, with backpressure.
 * Used for /v3/watch and the other streaming gateway routes.
 */
export class JsonStreamWriter {
  private started = false;
  private closedByClient = false;
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();

  constructor(private readonly res: http.ServerResponse) {
    this.signal = this.controller.signal;
    res.on('close', () => {
      if (!res.writableFinished) {
        this.closedByClient = true;
        this.controller.abort();
      }
    });
  }

  get closed(): boolean {
    return this.closedByClient || this.res.writableEnded;
  }

  /** Writes {"result": <resultJson>}; resolves when the socket can take more. */
  result(resultJson: string): Promise<void> {
    return this.line(`{"result":${resultJson}}`);
  }

  /** Writes one serialised JSON object and a newline. */
  line(json: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.start(200);
    if (this.res.write(json + '\n')) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  /**
   * Ends the stream with an error: before any result, the mapped HTTP status and the
   * grpc-gateway stream error body; after results, the same object appended to the stream.
   */
  error(code: StatusCode, message: string): void {
    if (this.closed) return;
    const httpCode = httpStatusFromCode(code);
    const body = JSON.stringify({ error: { grpc_code: code, http_code: httpCode, message, http_status: http.STATUS_CODES[httpCode] ?? '' } });
    if (!this.started) {
      this.res.writeHead(httpCode, { ...GATEWAY_HEADERS, 'Content-Type': 'application/json' });
      this.res.end(body);
      return;
    }
    this.res.end(body + '\n');
  }

  end(): void {
    if (this.closed) return;
    this.start(200);
    this.res.end();
  }

  private start(status: number): void {
    if (this.started) return;
    this.started = true;
    this.res.writeHead(status, { ...GATEWAY_HEADERS, 'Content-Type': 'application/json', 'Grpc-Metadata-Content-Type': 'application/grpc' });
    this.res.flushHeaders();
  }
}

/** A streaming gateway body that is not a sequence of JSON objects, or too many of them. */
export class JsonStreamError extends EtsdError {
  constructor(message: string) {
    super('ERR_JSON_STREAM', message);
  }
}

/**
 * Splits a byte stream of concatenated JSON objects ({..}{..} or one per line) into one string
 * per object, without parsing them: it tracks brace depth outside strings. Each object is
 * bounded by maxObjectBytes, the count by httpStreamObjectsMax.
 */
export class JsonObjectSplitter {
  private buf = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private scan = 0;
  private count = 0;

  constructor(
    private readonly onObject: (json: string) => void,
    private readonly maxObjectBytes = httpBodyBytesMax,
  ) {}

  push(chunk: Buffer | string): void {
    this.buf += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let start = 0;
    for (let i = this.scan; i < this.buf.length; i++) {
      const c = this.buf.charCodeAt(i);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 0x5c) this.escaped = true;
        else if (c === 0x22) this.inString = false;
        continue;
      }
      if (this.depth === 0) {
        if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
          start = i + 1;
          continue;
        }
        if (c !== 0x7b) throw new JsonStreamError(`expected '{' at offset ${i} of the request stream`);
        start = i;
      }
      if (c === 0x22) this.inString = true;
      else if (c === 0x7b || c === 0x5b) this.depth++;
      else if (c === 0x7d || c === 0x5d) {
        this.depth--;
        if (this.depth === 0) {
          if (++this.count > httpStreamObjectsMax) throw new JsonStreamError('too many objects in one request stream');
          this.onObject(this.buf.slice(start, i + 1));
          start = i + 1;
        }
      }
    }
    this.buf = this.buf.slice(start);
    this.scan = this.buf.length;
    if (this.buf.length > this.maxObjectBytes) throw new JsonStreamError(`a request object exceeds ${this.maxObjectBytes} bytes`);
  }

  /** True when no partial object is pending (the body may end here). */
  get idle(): boolean {
    return this.depth === 0 && this.buf.trim().length === 0;
  }
}

/** An http.Server configured with etsd's bounds; connections are fed to it by the client port. */
export function createHttp1Server(router: HttpRouter, headersTimeoutMs = httpHeadersTimeoutMs): http.Server {
  const server = http.createServer(
    // The headers timeout is checked every connectionsCheckingInterval (node's default is 30 s).
    { maxHeaderSize: httpHeaderBytesMax, requestTimeout: 0, headersTimeout: headersTimeoutMs, connectionsCheckingInterval: Math.min(1000, headersTimeoutMs) },
    router.listener,
  );
  // This server never listens (the client port hands it sockets), but node:http starts its
  // connection tracking (headersTimeout, closeAllConnections) on 'listening'.
  server.emit('listening');
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
  });
  return server;
}
