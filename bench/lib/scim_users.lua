-- wrk script for bench/scim_scale.sh: GET requests against /scim/v2/Users
-- that vary on every request, so no cache sees the same key twice in a row.
--
--   wrk ... -s scim_users.lua <base-url> -- MODE FILE
--     MODE id      GET /scim/v2/Users/<random id from FILE>
--     MODE filter  GET /scim/v2/Users?filter=userName eq "<random userName from FILE>"
--     MODE page        GET /scim/v2/Users?startIndex=<random 1..lines(FILE)-99>&count=100
--     MODE page_first  GET /scim/v2/Users?startIndex=1&count=100 (the same request every time)
--     MODE page_mid    GET /scim/v2/Users?startIndex=<lines(FILE)/2 - 100 .. lines(FILE)/2 + 100>&count=100
-- The token comes from the environment variable SCIM_TOKEN.

local mode, values, n
local counter = 0

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function setup(thread)
  counter = counter + 1
  thread:set("thread_no", counter)
end

function init(args)
  mode = args[1]
  local file = args[2]
  if mode ~= "id" and mode ~= "filter" and mode ~= "page" and mode ~= "page_first" and mode ~= "page_mid" then
    error("MODE must be id, filter, page, page_first or page_mid, not " .. tostring(mode))
  end
  values = {}
  for line in io.lines(file) do
    if line ~= "" then values[#values + 1] = line end
  end
  n = #values
  if n == 0 then error("no lines in " .. file) end
  local token = os.getenv("SCIM_TOKEN")
  if not token or token == "" then error("SCIM_TOKEN is not set") end
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Accept"] = "application/scim+json"
  -- Each thread its own sequence.
  math.randomseed(os.time() * 1000 + (thread_no or 0) * 7919)
end

function request()
  local path
  if mode == "id" then
    path = "/scim/v2/Users/" .. values[math.random(n)]
  elseif mode == "filter" then
    path = "/scim/v2/Users?filter=" .. urlencode('userName eq "' .. values[math.random(n)] .. '"')
  elseif mode == "page_first" then
    path = "/scim/v2/Users?startIndex=1&count=100"
  elseif mode == "page_mid" then
    local mid = math.floor(n / 2)
    local lo = mid - 100
    if lo < 1 then lo = 1 end
    path = "/scim/v2/Users?startIndex=" .. math.random(lo, mid + 100) .. "&count=100"
  else
    local last = n - 99
    if last < 1 then last = 1 end
    path = "/scim/v2/Users?startIndex=" .. math.random(last) .. "&count=100"
  end
  return wrk.format("GET", path)
end
