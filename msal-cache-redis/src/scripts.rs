//! The two Lua scripts: one round trip each, atomic on the server.
//!
//! Layout: one hash per partition, field `d` (the MSAL JSON bytes) and field `v` (a decimal
//! counter: a random start when the hash is created, incremented on every later write).
//! Versions are compared as strings, exactly as stored.

use redis::Script;

/// `KEYS[1]` partition key; `ARGV[1]` the version the caller knows (`""`: none); `ARGV[2]` the
/// sliding TTL in ms to refresh (`0`: none).
///
/// Returns nil when the partition is missing, `{v}` when it is still at `ARGV[1]`, else
/// `{v, d}`. `d` is never false (a Lua array would end there), so the shapes stay distinct.
const READ: &str = r"
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return nil end
local ttl = tonumber(ARGV[2])
if ttl and ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
if v == ARGV[1] then return {v} end
local d = redis.call('HGET', KEYS[1], 'd')
if not d then d = '' end
return {v, d}
";

/// `KEYS[1]` partition key; `ARGV[1]` the version the write is based on (`""`: absent);
/// `ARGV[2]` the new bytes; `ARGV[3]` the TTL in ms (`0`: leave the key's TTL as it is);
/// `ARGV[4]` the invalidation channel; `ARGV[5]` the message (the partition key); `ARGV[6]`
/// the version to give the partition if this write creates it (a random decimal integer drawn
/// by the client, so that a partition that expired or was lost with a restart does not start
/// again at a version some client still holds for its earlier contents).
///
/// Returns `{1, new v}` when written; on a conflict `{0, v, d}` (the current contents, so the
/// retry needs no extra read) or `{0}` when the partition no longer exists.
const COMPARE_AND_SET: &str = r"
local cur = redis.call('HGET', KEYS[1], 'v')
if not cur then cur = '' end
if cur ~= ARGV[1] then
  if cur == '' then return {0} end
  local d = redis.call('HGET', KEYS[1], 'd')
  if not d then d = '' end
  return {0, cur, d}
end
if cur == '' then
  redis.call('HSET', KEYS[1], 'v', ARGV[6], 'd', ARGV[2])
else
  redis.call('HINCRBY', KEYS[1], 'v', 1)
  redis.call('HSET', KEYS[1], 'd', ARGV[2])
end
local ttl = tonumber(ARGV[3])
if ttl and ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return {1, redis.call('HGET', KEYS[1], 'v')}
";

/// The source of every script, to load them ahead of their first use.
pub(crate) const ALL: [&str; 2] = [READ, COMPARE_AND_SET];

/// The scripts, with their SHA1s computed once.
#[derive(Debug)]
pub(crate) struct Scripts {
    pub(crate) read: Script,
    pub(crate) compare_and_set: Script,
}

impl Scripts {
    pub(crate) fn new() -> Scripts {
        Scripts {
            read: Script::new(READ),
            compare_and_set: Script::new(COMPARE_AND_SET),
        }
    }
}
