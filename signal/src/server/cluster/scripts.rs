//! What the instances keep in Redis, and the Lua scripts that change it,
//! each atomic for all instances.
//!
//! Keys (standalone Redis or Sentinel; the scripts touch several keys, so
//! not Redis Cluster):
//! - `pc:room:ROOM` — a hash: `pw` (empty, or `SALT$SHA1(SALT PASSWORD)`)
//!   and `m:ID` → `INSTANCE\tNAME` for each member. It goes with its last
//!   member.
//! - `pc:peers` — a hash: every connected peer's `ID` → `INSTANCE\tROOM`
//!   (room empty when in none), for calls and relays by id.
//! - `pc:inst:INSTANCE` — a hash: the instance's own peers, `ID` → `ROOM`:
//!   what to take away when it dies.
//! - `pc:alive:INSTANCE` — set with a TTL by each heartbeat; when it
//!   expires the instance counts as dead.
//! - `pc:instances` — the set of instances that have registered.
//!
//! Channels: `pc:to:INSTANCE` (messages for one instance's clients) and
//! `pc:all` (membership events for every instance); see `events.rs`.

use redis::Script;

/// Checks a password against a room's `pw` field (refusing any while the
/// asking address is `locked` for guessing, as the hub does, only for a
/// room with a password), then the room's size. Returns the refusal, if
/// any, and the field.
const ADMITS: &str = r"
local function admits(rk, given, capacity, locked)
  local pw = redis.call('HGET', rk, 'pw')
  if not pw then return nil, nil end
  if pw ~= '' and locked == '1' then return {'locked'}, pw end
  if pw == '' then
    if given ~= '' then return {'wrong', 'has no password'}, pw end
  else
    if given == '' then return {'wrong', 'needs a password'}, pw end
    local cut = string.find(pw, '$', 1, true)
    local salt = string.sub(pw, 1, cut - 1)
    if salt .. '$' .. redis.sha1hex(salt .. given) ~= pw then
      return {'wrong', 'has a different password'}, pw
    end
  end
  if redis.call('HLEN', rk) - 1 >= capacity then return {'full'}, pw end
  return nil, pw
end
";

/// ARGV: room, id, instance, name, password, a fresh salt, capacity,
/// locked (`1` if the address may not guess now). Replies
/// `{'ok', PW, ID, INSTANCE\tNAME, ...}` with the members already there,
/// `{'full'}`, `{'locked'}` or `{'wrong', WHY}`.
const JOIN: &str = r"
local rk = 'pc:room:' .. ARGV[1]
local refused, pw = admits(rk, ARGV[5], tonumber(ARGV[7]), ARGV[8])
if refused then return refused end
if not pw then
  pw = ''
  if ARGV[5] ~= '' then pw = ARGV[6] .. '$' .. redis.sha1hex(ARGV[6] .. ARGV[5]) end
  redis.call('HSET', rk, 'pw', pw)
end
local members = redis.call('HGETALL', rk)
redis.call('HSET', rk, 'm:' .. ARGV[2], ARGV[3] .. '\t' .. ARGV[4])
redis.call('HSET', 'pc:peers', ARGV[2], ARGV[3] .. '\t' .. ARGV[1])
redis.call('HSET', 'pc:inst:' .. ARGV[3], ARGV[2], ARGV[1])
local out = {'ok', pw}
for i = 1, #members, 2 do
  if members[i] ~= 'pw' then
    out[#out + 1] = string.sub(members[i], 3)
    out[#out + 1] = members[i + 1]
  end
end
return out
";

/// ARGV: room, password, capacity, locked. Replies
/// `{'ok', MEMBERS, HAS_PASSWORD}`, `{'full'}`, `{'locked'}` or
/// `{'wrong', WHY}`.
const CHECK: &str = r"
local rk = 'pc:room:' .. ARGV[1]
local refused, pw = admits(rk, ARGV[2], tonumber(ARGV[3]), ARGV[4])
if refused then return refused end
if not pw then return {'ok', '0', '0'} end
local has = '0'
if pw ~= '' then has = '1' end
return {'ok', tostring(redis.call('HLEN', rk) - 1), has}
";

/// Takes `id` out of room `rk`, and the room away once empty.
const LEAVE_ROOM: &str = r"
local function leave_room(room, id)
  local rk = 'pc:room:' .. room
  redis.call('HDEL', rk, 'm:' .. id)
  if redis.call('HLEN', rk) <= 1 then redis.call('DEL', rk) end
end
";

/// ARGV: room, id, instance: the peer left its room.
const LEAVE: &str = r"
leave_room(ARGV[1], ARGV[2])
if redis.call('HEXISTS', 'pc:peers', ARGV[2]) == 1 then
  redis.call('HSET', 'pc:peers', ARGV[2], ARGV[3] .. '\t')
  redis.call('HSET', 'pc:inst:' .. ARGV[3], ARGV[2], '')
end
return 1
";

/// ARGV: id, instance: the peer connected (unless already known).
const REGISTER: &str = r"
redis.call('HSETNX', 'pc:peers', ARGV[1], ARGV[2] .. '\t')
redis.call('HSETNX', 'pc:inst:' .. ARGV[2], ARGV[1], '')
return 1
";

/// ARGV: id, instance: the peer disconnected.
const GONE: &str = r"
local room = redis.call('HGET', 'pc:inst:' .. ARGV[2], ARGV[1])
if room and room ~= '' then leave_room(room, ARGV[1]) end
redis.call('HDEL', 'pc:peers', ARGV[1])
redis.call('HDEL', 'pc:inst:' .. ARGV[2], ARGV[1])
return 1
";

/// ARGV: id. Replies `{INSTANCE, ROOM}` if the peer is connected to a live
/// instance, else nil.
const LOOKUP: &str = r"
local entry = redis.call('HGET', 'pc:peers', ARGV[1])
if not entry then return nil end
local cut = string.find(entry, '\t', 1, true)
local instance = string.sub(entry, 1, cut - 1)
if redis.call('EXISTS', 'pc:alive:' .. instance) == 0 then return nil end
return {instance, string.sub(entry, cut + 1)}
";

/// ARGV: instance, TTL in ms. Replies 1 if the instance was not
/// registered (it is new, or was taken for dead meanwhile).
const HEARTBEAT: &str = r"
redis.call('SET', 'pc:alive:' .. ARGV[1], '1', 'PX', ARGV[2])
return redis.call('SADD', 'pc:instances', ARGV[1])
";

/// Takes away every instance whose heartbeat expired: its peers leave
/// their rooms and `pc:all` hears `G\tINSTANCE\tID` for each. Replies how
/// many peers went.
const REAP: &str = r"
local gone = 0
for _, instance in ipairs(redis.call('SMEMBERS', 'pc:instances')) do
  if redis.call('EXISTS', 'pc:alive:' .. instance) == 0 then
    local peers = redis.call('HGETALL', 'pc:inst:' .. instance)
    for i = 1, #peers, 2 do
      local id, room = peers[i], peers[i + 1]
      if room ~= '' then leave_room(room, id) end
      redis.call('HDEL', 'pc:peers', id)
      redis.call('PUBLISH', 'pc:all', 'G\t' .. instance .. '\t' .. id)
      gone = gone + 1
    end
    redis.call('DEL', 'pc:inst:' .. instance)
    redis.call('SREM', 'pc:instances', instance)
  end
end
return gone
";

/// The scripts, loaded once (`EVALSHA`, loaded again after a Redis
/// restart by the client).
pub(super) struct Scripts {
    pub(super) join: Script,
    pub(super) check: Script,
    pub(super) leave: Script,
    pub(super) register: Script,
    pub(super) gone: Script,
    pub(super) lookup: Script,
    pub(super) heartbeat: Script,
    pub(super) reap: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        let with = |prelude: &str, body: &str| Script::new(&format!("{prelude}{body}"));
        Self {
            join: with(ADMITS, JOIN),
            check: with(ADMITS, CHECK),
            leave: with(LEAVE_ROOM, LEAVE),
            register: Script::new(REGISTER),
            gone: with(LEAVE_ROOM, GONE),
            lookup: Script::new(LOOKUP),
            heartbeat: Script::new(HEARTBEAT),
            reap: with(LEAVE_ROOM, REAP),
        }
    }
}

/// The `pw` field for `password` (empty for none) with `salt`, as `JOIN`
/// computes it: for writing a room back after Redis lost it.
pub(super) fn password_field(salt: &str, password: &str) -> String {
    use sha1::{Digest, Sha1};
    if password.is_empty() {
        return String::new();
    }
    let digest = Sha1::digest(format!("{salt}{password}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{salt}${hex}")
}
