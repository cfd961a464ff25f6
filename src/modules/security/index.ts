/**
 * Security: the checks every other concern leans on. Offers the audit log of auth events
 * (AuditService), the per-operation and per-IP rate limits (RateLimitService) and the
 * secret gate, which every check of a password, code or recovery code goes through and which
 * locks an account out after repeated failures (SecretGate, AccountLockedError).
 */
export { AuditService } from './audit.service';
export { RateLimitService } from './rate-limit.service';
export { AccountLockedError, SecretGate } from './secret-gate.service';
