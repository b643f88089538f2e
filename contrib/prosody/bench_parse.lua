-- What Prosody's stream parser (util.xmppstream) spends on one multicast
-- stanza's recipient list, by form: none, 200 XEP-0033 <address/> elements
-- as talkgroups writes them, the same self-closing, and the compact
-- urn:talkgroups:bcc:0 text. BENCHMARKS.md, session 8.
--
--   lua5.4 contrib/prosody/bench_parse.lua [FORM] [ITERATIONS] [PROSODY_LIB]
--
-- Without FORM, every form, timed. For instruction counts run one form
-- at a time under callgrind and subtract "none":
--   valgrind --tool=callgrind lua5.4 contrib/prosody/bench_parse.lua addresses 200

local only, iters, lib = arg[1], tonumber(arg[2] or 3000), arg[3] or "/usr/lib/prosody";
package.path = lib .. "/?.lua;" .. package.path;
package.cpath = lib .. "/?.so;" .. package.cpath;
local xmppstream = require "util.xmppstream";

local recipients = 200;
local head = "<message xmlns='jabber:component:accept' from='lobby@groups.localhost'"
	.. " to='multicast.localhost' type='chat' id='tgm-1-0'><body>[u1] The quick brown fox"
	.. " jumps over the lazy dog; a typical chat line</body>"
	.. "<nick xmlns='http://jabber.org/protocol/nick'>u1</nick>";
local function list(open, item, close)
	local t = { head, open };
	for i = 1, recipients do t[#t + 1] = item:format(i); end
	t[#t + 1] = close .. "</message>";
	return table.concat(t);
end
local forms = {
	{ "none", head .. "</message>" },
	{ "addresses", list("<addresses xmlns='http://jabber.org/protocol/address'>",
		"<address jid='u%d@localhost' type='bcc'></address>", "</addresses>") },
	{ "self-closing", list("<addresses xmlns='http://jabber.org/protocol/address'>",
		"<address type='bcc' jid='u%d@localhost'/>", "</addresses>") },
	{ "compact", list("<bcc xmlns='urn:talkgroups:bcc:0'>", "u%d@localhost ", "</bcc>") },
};

for _, form in ipairs(forms) do
	local name, xml = form[1], form[2];
	if not only or only == name then
		local parsed = 0;
		local cb = {
			stream_ns = "http://etherx.jabber.org/streams",
			default_ns = "jabber:component:accept",
			streamopened = function(session) session.notopen = nil; end,
			handlestanza = function() parsed = parsed + 1; end,
		};
		local stream = xmppstream.new({ notopen = true }, cb, 1e9);
		stream:feed("<stream:stream xmlns='jabber:component:accept'"
			.. " xmlns:stream='http://etherx.jabber.org/streams' to='x'>");
		collectgarbage();
		local t0 = os.clock();
		for _ = 1, iters do stream:feed(xml); end
		local us = (os.clock() - t0) / iters * 1e6;
		assert(parsed == iters, name .. ": parsed " .. parsed);
		print(("%-12s %6d bytes  %8.1f us/stanza  %6.2f us/recipient"):format(
			name, #xml, us, us / recipients));
	end
end
