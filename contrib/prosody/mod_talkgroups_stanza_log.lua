-- mod_talkgroups_stanza_log: log every stanza a client (c2s) session sends
-- or receives, in full, at debug level. Prosody's own debug log shows only
-- a stanza's opening tag; to see what a real client sends to a group (and
-- what the group's stanzas look like when they reach the client) you need
-- the payloads too. (Prosody 0.12's component sessions have no stanza
-- filters, so the component's side is seen only as it reaches clients.)
--
-- Global module. The quick start loads it with TALKGROUPS_QS_DEBUG=1
-- (contrib/quickstart.sh). The log holds message bodies: test setups only.
module:set_global();

local filters = require "util.filters";

local function logger(direction)
	return function(stanza, session)
		if stanza and stanza.name then
			(session.log or module._log)("debug", "%s %s: %s", direction,
				session.type or "?", tostring(stanza));
		end
		return stanza;
	end
end
local log_in, log_out = logger("IN"), logger("OUT");

local function init(session)
	local t = session.type or "";
	if t:match("^c2s") then
		filters.add_filter(session, "stanzas/in", log_in, 10000);
		filters.add_filter(session, "stanzas/out", log_out, -10000);
	end
end

function module.load() filters.add_filter_hook(init); end
function module.unload() filters.remove_filter_hook(init); end
