-- wrk script for bench/profile.sh's write scenarios.
--
--   wrk ... -s scim_writes.lua <base-url> -- MODE FILE
--     MODE patch   PATCH /scim/v2/Users/<random id from FILE> setting active=false
--     MODE create  POST /scim/v2/Users with a new userName on every request
-- The token comes from the environment variable SCIM_TOKEN.

local mode, ids, n
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_no", counter)
end

function init(args)
  mode = args[1]
  if mode ~= "patch" and mode ~= "create" then
    error("MODE must be patch or create, not " .. tostring(mode))
  end
  ids = {}
  for line in io.lines(args[2]) do
    if line ~= "" then ids[#ids + 1] = line end
  end
  n = #ids
  local token = os.getenv("SCIM_TOKEN")
  if not token or token == "" then error("SCIM_TOKEN is not set") end
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/scim+json"
  wrk.headers["Accept"] = "application/scim+json"
  math.randomseed(os.time() * 1000 + (thread_no or 0) * 7919)
end

local seq = 0

function request()
  if mode == "patch" then
    local body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],' ..
      '"Operations":[{"op":"replace","path":"active","value":false}]}'
    return wrk.format("PATCH", "/scim/v2/Users/" .. ids[math.random(n)], nil, body)
  end
  seq = seq + 1
  local name = string.format("w%d-%d-%d@example.com", thread_no or 0, seq, math.random(1000000000))
  local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' .. name ..
    '","name":{"givenName":"Bench","familyName":"Writer"},"emails":[{"value":"' .. name ..
    '","primary":true}],"active":true}'
  return wrk.format("POST", "/scim/v2/Users", nil, body)
end
