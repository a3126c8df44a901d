/**
 * grpc.health.v1 (grpc's health/v1/health.proto), which etcd registers on its client port
 * beside its own services: load balancers and some clients call /grpc.health.v1.Health/Check,
 * and etcd answers SERVING for the service "".
 */
import { defineEnum, defineMessage, f } from './message.js';

export const ServingStatus = defineEnum('grpc_health_v1.HealthCheckResponse_ServingStatus', {
  UNKNOWN: 0,
  SERVING: 1,
  NOT_SERVING: 2,
  SERVICE_UNKNOWN: 3,
} as const);
export type ServingStatusValue = (typeof ServingStatus)[keyof typeof ServingStatus];

export interface HealthCheckRequest {
  service: string;
}
export const HealthCheckRequest = defineMessage<HealthCheckRequest>('grpc.health.v1.HealthCheckRequest', {
  service: f.string(1),
});

export interface HealthCheckResponse {
  status: ServingStatusValue;
}
export const HealthCheckResponse = Object.assign(
  defineMessage<HealthCheckResponse>('grpc.health.v1.HealthCheckResponse', {
    status: f.enum(1, ServingStatus),
  }),
  { ServingStatus },
);
