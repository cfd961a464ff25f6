import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics (docs/api.md §1). One registry per app, so tests can run several apps. */
export class Metrics {
  readonly registry = new Registry();

  readonly httpDuration = new Histogram({
    name: 'warden_http_request_duration_seconds',
    help: 'HTTP request duration in seconds',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly logins = new Counter({
    name: 'warden_logins_total',
    help: 'Login attempts by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly lockouts = new Counter({
    name: 'warden_lockouts_total',
    help: 'Emails locked after too many failed attempts',
    registers: [this.registry],
  });

  readonly secretChecks = new Counter({
    name: 'warden_secret_checks_total',
    help: 'Checks of a secret through the lockout gate, by kind and result: ok, failed (both checked), locked or busy (refused unchecked)',
    labelNames: ['kind', 'result'] as const,
    registers: [this.registry],
  });

  readonly refreshes = new Counter({
    name: 'warden_refresh_total',
    help: 'Refresh-token uses by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly sessionsRevoked = new Counter({
    name: 'warden_sessions_revoked_total',
    help: 'Sessions ended, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly mail = new Counter({
    name: 'warden_mail_total',
    help: 'Outgoing mail by result: sent, retried (an attempt failed and another follows) or failed (gave up)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly mfa = new Counter({
    name: 'warden_mfa_events_total',
    help: 'MFA events: enrolled, activated, verify_ok, verify_failed, recovery_code_used, removed, reset',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });

  readonly listItemCapAborts = new Counter({
    name: 'warden_list_item_cap_aborts_total',
    help: 'Operations aborted for resolving more list items than MAX_LIST_ITEMS',
    registers: [this.registry],
  });

  readonly sessionInvalidations = new Counter({
    name: 'warden_session_invalidations_total',
    help: 'Session-cache invalidations sent to the other instances, by result: acknowledged by every instance; unacknowledged (some did not answer, the write waited out the lease); undelivered (Redis did not take it, retried in the background)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    for (const result of ['ok', 'failed', 'locked']) this.logins.inc({ result }, 0);
    for (const event of ['enrolled', 'activated', 'verify_ok', 'verify_failed', 'recovery_code_used', 'removed', 'reset'])
      this.mfa.inc({ event }, 0);
    for (const kind of ['password', 'email_code']) {
      for (const result of ['ok', 'failed', 'locked', 'busy']) this.secretChecks.inc({ kind, result }, 0);
    }
    for (const result of ['ok', 'grace', 'reused', 'expired', 'invalid']) this.refreshes.inc({ result }, 0);
    for (const result of ['sent', 'retried', 'failed']) this.mail.inc({ result }, 0);
    for (const result of ['acknowledged', 'unacknowledged', 'undelivered']) this.sessionInvalidations.inc({ result }, 0);
  }
}
