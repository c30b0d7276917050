import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_RATE_LIMITS, loadConfig } from '../../src/config/config.js';
import { allowListMatcher, parseAllowListEntry, type AllowListEntry } from '../../src/rate-limit/allow-list.js';
import { RATE_FORMAT } from '../../src/rate-limit/rate.js';

const KEY = Buffer.alloc(32, 1).toString('base64');
const load = (env: Record<string, string>) => loadConfig({ DATABASE_URL: 'postgres://u@db/x', SECRETS_KEY: KEY, ...env });

describe('rate-limit configuration', () => {
  it('is on by default in production: 20/minute per address, a global ceiling, a generous token limit', () => {
    const { rateLimits } = load({});
    expect(DEFAULT_RATE_LIMITS).toEqual({ register: '20/minute', registerGlobal: '1000/hour', token: '3000/minute' });
    expect(rateLimits.register).toMatchObject({ max: 20, windowMs: 60_000 });
    expect(rateLimits.registerGlobal).toMatchObject({ max: 1000, windowMs: 3_600_000 });
    expect(rateLimits.token).toMatchObject({ max: 3000, windowMs: 60_000 });
    expect(rateLimits.allowList).toEqual([]);
    expect(rateLimits.redisUrl).toBeUndefined();
  });

  it.each([
    ['20/minute', 20, 60_000],
    ['3/second', 3, 1_000],
    ['1000/hour', 1000, 3_600_000],
    ['5/10s', 5, 10_000],
    ['100/5m', 100, 300_000],
    ['2/24h', 2, 86_400_000],
  ])('reads %s as %i per %i ms', (text, max, windowMs) => {
    for (const name of ['RATE_LIMIT_REGISTER', 'RATE_LIMIT_REGISTER_GLOBAL', 'RATE_LIMIT_TOKEN'] as const) {
      const limits = load({ [name]: text }).rateLimits;
      const rate = name === 'RATE_LIMIT_REGISTER' ? limits.register : name === 'RATE_LIMIT_REGISTER_GLOBAL' ? limits.registerGlobal : limits.token;
      expect(rate).toEqual({ max, windowMs, text });
    }
  });

  it('off turns each limit off on its own', () => {
    expect(load({ RATE_LIMIT_REGISTER: 'off' }).rateLimits).toMatchObject({ register: undefined, registerGlobal: { max: 1000 }, token: { max: 3000 } });
    expect(load({ RATE_LIMIT_REGISTER_GLOBAL: 'off' }).rateLimits).toMatchObject({ register: { max: 20 }, registerGlobal: undefined });
    expect(load({ RATE_LIMIT_TOKEN: 'off' }).rateLimits).toMatchObject({ register: { max: 20 }, token: undefined });
  });

  it.each(['20', '20/min', '20/minutes', '0/minute', '-1/minute', '20/day', '5/0s', '5/25h', '5/500ms', 'twenty/minute', '20 / minute', 'OFF'])(
    'refuses "%s", naming the variable and the format',
    (text) => {
      for (const name of ['RATE_LIMIT_REGISTER', 'RATE_LIMIT_REGISTER_GLOBAL', 'RATE_LIMIT_TOKEN']) {
        expect(() => load({ [name]: text })).toThrow(ConfigError);
        expect(() => load({ [name]: text })).toThrow(new RegExp(`^${name}: `));
      }
      if (!/^\d+\/\d+[smh]$/.test(text) && !text.startsWith('0/') && !text.startsWith('-')) {
        expect(() => load({ RATE_LIMIT_REGISTER: text })).toThrow(RATE_FORMAT);
      }
    },
  );

  it('reads the allow-list: IPv4, IPv6, CIDRs, IPv4-mapped IPv6 as IPv4', () => {
    const { allowList } = load({ RATE_LIMIT_ALLOW_LIST: ' 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32, ::ffff:198.51.100.1,' }).rateLimits;
    expect(allowList).toEqual([
      { address: '10.0.0.0', prefix: 8, family: 'ipv4' },
      { address: '192.0.2.7', prefix: 32, family: 'ipv4' },
      { address: '2001:db8::', prefix: 32, family: 'ipv6' },
      { address: '198.51.100.1', prefix: 32, family: 'ipv4' },
    ]);
  });

  it.each(['example.com', '10.0.0.0/33', '2001:db8::/129', '10.0.0.1/8/9', '10.0.0.0/x', '300.1.1.1'])('refuses the allow-list entry "%s"', (entry) => {
    expect(() => load({ RATE_LIMIT_ALLOW_LIST: `192.0.2.1,${entry}` })).toThrow(/^RATE_LIMIT_ALLOW_LIST: .*not/);
  });

  it('takes a redis:// or rediss:// REDIS_URL and refuses anything else without echoing it', () => {
    expect(load({ REDIS_URL: 'redis://:pw@cache:6379/2' }).rateLimits.redisUrl).toBe('redis://:pw@cache:6379/2');
    expect(load({ REDIS_URL: 'rediss://cache.example:6380' }).rateLimits.redisUrl).toBe('rediss://cache.example:6380');
    expect(() => load({ REDIS_URL: 'http://user:secret-pw@cache' })).toThrow(/^REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL$/);
  });
});

describe('allow-list matching', () => {
  const entries = ['10.0.0.0/8', '192.0.2.7', '2001:db8::/32'].map((e) => parseAllowListEntry(e) as AllowListEntry);
  const allowed = allowListMatcher(entries);
  it.each([
    ['10.1.2.3', true],
    ['11.0.0.1', false],
    ['192.0.2.7', true],
    ['192.0.2.8', false],
    ['::ffff:10.9.9.9', true],
    ['::ffff:11.9.9.9', false],
    ['2001:db8:1::5', true],
    ['2001:db9::5', false],
    ['not-an-address', false],
  ])('%s allowed: %s', (address, expected) => {
    expect(allowed(address)).toBe(expected);
  });

  it('an empty list allows no one', () => {
    expect(allowListMatcher([])('10.1.2.3')).toBe(false);
  });
});
