/**
 * The three ways to name the shared store (docs/operations.md, "Redis topologies"): REDIS_URL,
 * REDIS_CLUSTER_URLS, or REDIS_SENTINEL_URLS with REDIS_SENTINEL_MASTER.
 */
import { loadConfig } from '../../src/config';
import { describeRedisTarget } from '../../src/infra/redis-connection';

const base = { DATA_DIR: '/tmp/warden-config-test', JWT_SECRET: 'x'.repeat(32) };

describe('the Redis target', () => {
  it('is one server for REDIS_URL, none without any', () => {
    expect(loadConfig({ ...base, REDIS_URL: 'redis://:pw@cache:6379/2' }).redis).toEqual({
      kind: 'single',
      url: 'redis://:pw@cache:6379/2',
    });
    expect(loadConfig(base).redis).toBeUndefined();
  });

  it('is a cluster for REDIS_CLUSTER_URLS, a comma-separated list of node URLs', () => {
    const config = loadConfig({ ...base, REDIS_CLUSTER_URLS: 'rediss://u:pw@a:7000, rediss://u:pw@b:7001' });
    expect(config.redis).toEqual({ kind: 'cluster', urls: ['rediss://u:pw@a:7000', 'rediss://u:pw@b:7001'] });
    expect(describeRedisTarget(config.redis!)).toBe('cluster rediss://u:***@a:7000,rediss://u:***@b:7001');
  });

  it('is a Sentinel-watched master for REDIS_SENTINEL_URLS, which needs REDIS_SENTINEL_MASTER', () => {
    const config = loadConfig({ ...base, REDIS_SENTINEL_URLS: 'redis://s1:26379,redis://s2:26379', REDIS_SENTINEL_MASTER: 'mymaster' });
    expect(config.redis).toEqual({ kind: 'sentinel', urls: ['redis://s1:26379', 'redis://s2:26379'], masterName: 'mymaster' });
    expect(() => loadConfig({ ...base, REDIS_SENTINEL_URLS: 'redis://s1:26379' })).toThrow(/REDIS_SENTINEL_MASTER: required/);
  });

  it('refuses two kinds at once, and URLs that are not redis:// or rediss://', () => {
    expect(() => loadConfig({ ...base, REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_URLS: 'redis://b:7000' })).toThrow(
      /REDIS_URL, REDIS_CLUSTER_URLS: set only one/,
    );
    expect(() => loadConfig({ ...base, REDIS_CLUSTER_URLS: 'redis://a:7000,http://b:7001' })).toThrow(
      /REDIS_CLUSTER_URLS: each URL must start with redis:\/\/ or rediss:\/\//,
    );
    expect(() => loadConfig({ ...base, REDIS_SENTINEL_URLS: 'not a url', REDIS_SENTINEL_MASTER: 'm' })).toThrow(/REDIS_SENTINEL_URLS/);
  });

  it('in production, any one of the three satisfies the store requirement', () => {
    const production = { ...base, NODE_ENV: 'production' };
    expect(() => loadConfig(production)).toThrow(/REDIS_URL: required in production, or REDIS_CLUSTER_URLS or REDIS_SENTINEL_URLS/);
    expect(loadConfig({ ...production, REDIS_CLUSTER_URLS: 'redis://a:7000' }).redis?.kind).toBe('cluster');
    expect(loadConfig({ ...production, REDIS_SENTINEL_URLS: 'redis://s:26379', REDIS_SENTINEL_MASTER: 'm' }).redis?.kind).toBe('sentinel');
  });
});
