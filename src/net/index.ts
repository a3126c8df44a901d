/**
 * The client-port plumbing: native frames, gRPC over node:http2, HTTP/1.1 routing, and one
 * sniffing listener for all three. Generic over messages: handlers get and return protobuf
 * bytes, registered once by gRPC path in a MethodTable.
 */
export { ClientPort, NATIVE_ALPN, chooseAlpn, type ClientPortOptions, type ClientPortStats } from './client_port.js';
export {
  MethodTable,
  MethodTableError,
  untilAborted,
  type CallContext,
  type MethodKind,
  type Protocol,
  type ServerStream,
  type StreamHandler,
  type UnaryHandler,
} from './methods.js';
export {
  OK_STATUS,
  Status,
  StatusError,
  decodeGrpcMessage,
  encodeGrpcMessage,
  httpStatusFromCode,
  statusFromError,
  statusName,
  type StatusCode,
} from './status.js';
export { NativeServerConnection, serveNative, type NativeServerOptions } from './native_server.js';
export { NativeClient, ClientStream, type CallOptions } from './native_client.js';
export { GrpcServer, type GrpcServerOptions } from './grpc_server.js';
export { GrpcClient, GrpcClientStream, type GrpcCallOptions, type GrpcConnectOptions } from './grpc_client.js';
export {
  GATEWAY_HEADERS,
  HttpRouter,
  JsonObjectSplitter,
  JsonStreamError,
  JsonStreamWriter,
  createHttp1Server,
  writeJson,
  writeJsonError,
  writeText,
  type HttpHandler,
  type HttpRequest,
  type RouteOptions,
} from './http1.js';
export {
  FrameMalformedError,
  FrameParser,
  FrameTooLargeError,
  FrameType,
  FrameVersionError,
  type FrameTypeCode,
} from './frame.js';
export { FrameWriter } from './frame_writer.js';
export { GrpcCompressedError, GrpcMessageParser, GrpcMessageTooLargeError, GrpcTruncatedError } from './grpc_frame.js';
export { sniffProtocol, type SniffResult } from './sniff.js';
export {
  TLS_MIN_VERSION,
  TlsConfigError,
  clientTlsOptions,
  connectTls,
  loadCaFile,
  loadKeyPair,
  readTlsFile,
  serverTlsOptions,
  type ClientTlsFiles,
  type ServerTlsFiles,
} from './tls.js';
export { makeSelfSignedCert, selfCert, type SelfSignedCert } from './self_cert.js';
export { SocketTransport, connectTcp, type ByteSink, type ByteTransport } from './transport.js';
export { GrpcH2Server, type GrpcH2Options } from './h2/grpc_h2.js';
export { GrpcH2Client, GrpcH2ClientStream, type GrpcH2CallOptions, type GrpcH2ConnectOptions } from './h2/grpc_h2_client.js';
export { H2ServerConnection, H2Stream } from './h2/h2_conn.js';
export { HpackDecoder, HpackError, encodeHeaderBlock } from './h2/hpack.js';
