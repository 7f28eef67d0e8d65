-- wrk script for bench/audit_scale.sh: GET /api/v1/audit-logs pages that vary
-- on every request, so no cache sees the same key twice in a row.
--
--   wrk ... -s audit_logs.lua <base-url> -- MODE DATADIR
--     page          ?limit=100&cursor=<random seq>
--     prefix        ?action=scim.user.*&limit=100&cursor=<random seq>
--     prefix_rare   ?action=sat.*&limit=100&cursor=<random seq>
--     action        ?action=scim.user.patch&limit=100&cursor=<random seq>
--     actor         ?actor_id=<random actor id>&limit=100&cursor=<random seq>
--     failure       ?outcome=failure&limit=100&cursor=<random seq>
--     target        ?target_id=<random user id>&limit=100   (the first page of a user's history)
--     target_typed  ?target_type=user&target_id=<random user id>&limit=100
--     range         ?since=<random t>&until=<t + RANGE_SECONDS>&limit=100   (the first page of a window)
-- DATADIR is what bench/lib/audit_seed.py wrote: actors.txt, users.txt and
-- meta.sh (FIRST_SEQ, LAST_SEQ, T_FIRST, T_LAST). The token comes from the
-- environment variable AUDIT_TOKEN, the window length from RANGE_SECONDS
-- (default 86400).

local mode, actors, users, meta
local counter = 0
local range_seconds = tonumber(os.getenv("RANGE_SECONDS") or "86400")

local MODES = {
  page = true, prefix = true, prefix_rare = true, action = true, actor = true,
  failure = true, target = true, target_typed = true, range = true,
}

local function lines(file)
  local t = {}
  for line in io.lines(file) do
    if line ~= "" then t[#t + 1] = line end
  end
  if #t == 0 then error("no lines in " .. file) end
  return t
end

local function read_meta(file)
  local m = {}
  for line in io.lines(file) do
    local k, v = line:match("^(%w[%w_]*)=(.*)$")
    if k then m[k] = v end
  end
  return m
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local function rfc3339(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", t)
end

function setup(thread)
  counter = counter + 1
  thread:set("thread_no", counter)
end

function init(args)
  mode = args[1]
  local dir = args[2]
  if not MODES[mode] then error("unknown MODE " .. tostring(mode)) end
  actors = lines(dir .. "/actors.txt")
  users = lines(dir .. "/users.txt")
  meta = read_meta(dir .. "/meta.sh")
  meta.FIRST_SEQ = tonumber(meta.FIRST_SEQ)
  meta.LAST_SEQ = tonumber(meta.LAST_SEQ)
  meta.T_FIRST = tonumber(meta.T_FIRST)
  meta.T_LAST = tonumber(meta.T_LAST)
  local token = os.getenv("AUDIT_TOKEN")
  if not token or token == "" then error("AUDIT_TOKEN is not set") end
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Accept"] = "application/json"
  math.randomseed(os.time() * 1000 + (thread_no or 0) * 7919)
end

-- A cursor anywhere in the seeded range (0 = from the start).
local function cursor()
  return math.random(0, meta.LAST_SEQ - 100)
end

function request()
  local q
  if mode == "page" then
    q = "limit=100&cursor=" .. cursor()
  elseif mode == "prefix" then
    q = "action=" .. urlencode("scim.user.*") .. "&limit=100&cursor=" .. cursor()
  elseif mode == "prefix_rare" then
    q = "action=" .. urlencode("sat.*") .. "&limit=100&cursor=" .. cursor()
  elseif mode == "action" then
    q = "action=scim.user.patch&limit=100&cursor=" .. cursor()
  elseif mode == "actor" then
    q = "actor_id=" .. urlencode(actors[math.random(#actors)]) .. "&limit=100&cursor=" .. cursor()
  elseif mode == "failure" then
    q = "outcome=failure&limit=100&cursor=" .. cursor()
  elseif mode == "target" then
    q = "target_id=" .. users[math.random(#users)] .. "&limit=100"
  elseif mode == "target_typed" then
    q = "target_type=user&target_id=" .. users[math.random(#users)] .. "&limit=100"
  else
    local last = meta.T_LAST - range_seconds
    if last < meta.T_FIRST then last = meta.T_FIRST end
    local t = math.random(meta.T_FIRST, last)
    q = "since=" .. urlencode(rfc3339(t)) .. "&until=" .. urlencode(rfc3339(t + range_seconds)) .. "&limit=100"
  end
  return wrk.format("GET", "/api/v1/audit-logs?" .. q)
end
