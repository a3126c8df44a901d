// The gRPC and etcdctl suites again, with the client port serving gRPC through node:http2
// instead of etsd's own HTTP/2 engine: both engines must answer identically.
process.env.ETSD_GRPC_ENGINE = 'node';
await import('./grpc.test.js');
await import('./etcdctl.test.js');
