"""Per-destination rate limits shared by every worker process: a token bucket in Redis.

Each chat sink has a bucket (``rate_per_s`` tokens a second, up to
``burst``) and a "blocked until" time set when the destination answers 429,
so one worker's 429 makes every worker wait. The clock is Redis's own, so
processes on different hosts agree.
"""

from __future__ import annotations

import redis

from notifier.state.keys import Keys

# KEYS: bucket hash, blocked-until string. ARGV: rate per second, burst.
# Returns "0" when a token was taken, else the seconds to wait (as a string: Lua numbers
# become integers on the way out).
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > now then return tostring(blocked - now) end
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens') or ARGV[2])
local stamp = tonumber(redis.call('HGET', KEYS[1], 'stamp') or now)
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return tostring(wait)
"""

# KEYS: blocked-until. ARGV: seconds. Only ever pushes the time later.
_BLOCK = """
local t = redis.call('TIME')
local until_ = tonumber(t[1]) + tonumber(t[2]) / 1e6 + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > current then
  redis.call('SET', KEYS[1], tostring(until_), 'EX', math.ceil(tonumber(ARGV[1])) + 60)
end
return 1
"""


class RateLimiter:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._keys = keys
        self._acquire = client.register_script(_ACQUIRE)
        self._block = client.register_script(_BLOCK)

    def acquire(self, sink: str, rate_per_s: float, burst: int) -> float:
        """Take a token: 0.0 when allowed now, else the seconds to wait (nothing taken)."""
        wait = self._acquire(keys=[self._keys.bucket(sink), self._keys.blocked(sink)], args=[rate_per_s, burst])
        return float(wait)

    def block(self, sink: str, seconds: float) -> None:
        """Nobody sends to ``sink`` for ``seconds`` (a 429's Retry-After)."""
        self._block(keys=[self._keys.blocked(sink)], args=[max(0.0, seconds)])
