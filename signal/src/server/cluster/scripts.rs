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
//! - `pc:guess:a:ADDRESS`, `pc:guess:r:ROOM` — wrong-password records
//!   (see `GUESSES`), expiring.
//!
//! Channels: `pc:to:INSTANCE` (messages for one instance's clients) and
//! `pc:all` (membership events for every instance); see `events.rs`.

use redis::Script;

/// Wrong-password records shared by every instance, kept as
/// `server/throttle.rs` keeps them for one server (so a guesser gains
/// nothing by landing on several instances): `pc:guess:a:ADDRESS` and
/// `pc:guess:r:ROOM`, hashes with `f` (failures) and `u` (locked until, in
/// ms of Redis's clock), each expiring once its lock is over and it has
/// been left alone for the time to forget. The limits come after a
/// script's own ARGV, from index `i` (see [`super::Cluster::throttle_args`]):
/// address (empty: not counted), free tries per address and per room, the
/// first wait, the longest wait, the time to forget (ms).
const GUESSES: &str = r"
local function guess_limits(i)
  return {addr = ARGV[i], free_a = tonumber(ARGV[i + 1]), free_r = tonumber(ARGV[i + 2]),
    base = tonumber(ARGV[i + 3]), max = tonumber(ARGV[i + 4]), forget = tonumber(ARGV[i + 5])}
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function guess_record(key)
  local r = redis.call('HMGET', key, 'f', 'u')
  return tonumber(r[1]) or 0, tonumber(r[2]) or 0
end
local function guess_wait(g, room, now)
  if g.addr == '' then return 0 end
  local failures, till = guess_record('pc:guess:a:' .. g.addr)
  local wait = till - now
  if failures > 0 then
    local _, room_till = guess_record('pc:guess:r:' .. room)
    wait = math.max(wait, room_till - now)
  end
  return math.max(wait, 0)
end
local function guess_failed(key, free, g, now)
  local failures = redis.call('HINCRBY', key, 'f', 1)
  local _, till = guess_record(key)
  if failures > free then
    till = now + math.min(g.base * 2 ^ math.min(failures - free - 1, 20), g.max)
    redis.call('HSET', key, 'u', string.format('%d', till))
  end
  redis.call('PEXPIRE', key, string.format('%d', math.max(till - now, 0) + g.forget))
end
local function guessed(g, room, right, now)
  if g.addr == '' then return end
  if right then
    redis.call('DEL', 'pc:guess:a:' .. g.addr)
  else
    guess_failed('pc:guess:a:' .. g.addr, g.free_a, g, now)
    guess_failed('pc:guess:r:' .. room, g.free_r, g, now)
  end
end
";

/// Checks a password against room `room`'s `pw` field (refusing any while
/// the asking address or the room is locked for guessing, only for a room
/// with a password, and counting the guess), then the room's size.
/// Returns the refusal, if any, and the field.
const ADMITS: &str = r"
local function admits(room, given, capacity, g)
  local rk = 'pc:room:' .. room
  local pw = redis.call('HGET', rk, 'pw')
  if not pw then return nil, nil end
  if pw == '' then
    if given ~= '' then return {'wrong', 'has no password'}, pw end
  else
    local now = now_ms()
    local wait = guess_wait(g, room, now)
    if wait > 0 then return {'locked', string.format('%d', wait)}, pw end
    local right = false
    if given ~= '' then
      local cut = string.find(pw, '$', 1, true)
      local salt = string.sub(pw, 1, cut - 1)
      right = salt .. '$' .. redis.sha1hex(salt .. given) == pw
    end
    guessed(g, room, right, now)
    if given == '' then return {'wrong', 'needs a password'}, pw end
    if not right then return {'wrong', 'has a different password'}, pw end
  end
  if redis.call('HLEN', rk) - 1 >= capacity then return {'full'}, pw end
  return nil, pw
end
";

/// ARGV: room, id, instance, name, password, a fresh salt, capacity, then
/// the guessing limits. Replies `{'ok', PW, ID, INSTANCE\tNAME, ...}` with
/// the members already there, `{'full'}`, `{'locked', WAIT_MS}` or
/// `{'wrong', WHY}`.
const JOIN: &str = r"
local rk = 'pc:room:' .. ARGV[1]
local refused, pw = admits(ARGV[1], ARGV[5], tonumber(ARGV[7]), guess_limits(8))
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

/// ARGV: room, password, capacity, then the guessing limits. Replies
/// `{'ok', MEMBERS, HAS_PASSWORD}`, `{'full'}`, `{'locked', WAIT_MS}` or
/// `{'wrong', WHY}`.
const CHECK: &str = r"
local rk = 'pc:room:' .. ARGV[1]
local refused, pw = admits(ARGV[1], ARGV[2], tonumber(ARGV[3]), guess_limits(4))
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
            join: with(&format!("{GUESSES}{ADMITS}"), JOIN),
            check: with(&format!("{GUESSES}{ADMITS}"), CHECK),
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
