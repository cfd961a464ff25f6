/**
 * Imported first by main.ts, before any other module: starts OpenTelemetry when OTEL_TRACES_EXPORTER
 * asks for it, so that its instrumentations are in place before http, graphql, the Redis client and
 * the Prisma client are loaded. Does nothing (and loads nothing) otherwise.
 */
import { startTracing } from './tracing';

startTracing();
