-- Unit test of mod_talkgroups_multicast.lua without a running Prosody:
-- Prosody's own util.stanza / util.jid / util.set, a stand-in `module`
-- that records what the module sends. (The integration test,
-- tests/e2e.rs xep0033_multicast_relays_and_keeps_references, runs it
-- inside a real Prosody.)
--
--   lua5.4 contrib/prosody/test_mod_talkgroups_multicast.lua [PROSODY_LIB]
--
-- PROSODY_LIB defaults to /usr/lib/prosody (Debian's prosody package).

local lib = arg[1] or "/usr/lib/prosody";
package.path = lib .. "/?.lua;" .. package.path;
package.cpath = lib .. "/?.so;" .. package.cpath;
local here = (arg[0]:match("^(.*)/[^/]*$") or ".");

local st = require "util.stanza";
local set = require "util.set";

local hooks, sent = {}, {};
local options = {
	multicast_senders = { "groups.example.org" };
	multicast_max_addresses = 3;
};
_G.module = {
	host = "multicast.example.org";
	get_option_set = function(_, name, default) return set.new(options[name] or default); end;
	get_option_number = function(_, name, default) return options[name] or default; end;
	log = function() end;
	hook = function(_, event, handler) hooks[event] = handler; end;
	-- What the module routes, as it is at that moment.
	send = function(_, stanza) sent[#sent + 1] = tostring(stanza); end;
};
dofile(here .. "/mod_talkgroups_multicast.lua");
local handle = assert(hooks["message/host"], "hooks message/host");

-- The sender's session; its connection records the read sizes set.
local modes = {};
local sender = { conn = { set_mode = function(_, size) modes[#modes + 1] = size; end } };

local function run(stanza)
	sent = {};
	assert(handle({ origin = sender, stanza = stanza }) == true, "handled");
	return sent;
end

local function message(from, addresses)
	local m = st.message({ from = from, to = "multicast.example.org", type = "chat", id = "tgm-7-0" })
		:tag("addresses", { xmlns = "http://jabber.org/protocol/address" });
	for _, a in ipairs(addresses) do
		-- As Prosody's stream parser gives them: every element names its xmlns.
		m:tag("address", { xmlns = "http://jabber.org/protocol/address", type = a[1], jid = a[2] }):up();
	end
	return m:up():text_tag("body", "[alice] hi"):reset();
end

local failures = 0;
local function check(name, ok, detail)
	if ok then
		print("ok   " .. name);
	else
		failures = failures + 1;
		print("FAIL " .. name .. (detail and (": " .. detail) or ""));
	end
end

-- bcc only: one copy per address, addresses gone, id and body kept.
local out = run(message("lobby@groups.example.org", {
	{ "bcc", "bob@example.org" }, { "bcc", "carol@example.net" },
}));
check("one copy per bcc address", #out == 2, #out .. " sent");
check("first copy to bob", out[1] and out[1]:find("to='bob@example.org'", 1, true) ~= nil, out[1]);
check("second copy to carol", out[2] and out[2]:find("to='carol@example.net'", 1, true) ~= nil, out[2]);
check("bcc addresses removed", out[1] and not out[1]:find("address", 1, true), out[1]);
check("id and body kept", out[1] and out[1]:find("id='tgm-7-0'", 1, true) and out[1]:find("[alice] hi", 1, true), out[1]);
check("from kept", out[1] and out[1]:find("from='lobby@groups.example.org'", 1, true), out[1]);
check("the sender's connection is read 256 KB at a time", modes[1] == 262144, tostring(modes[1]));

-- to + bcc: the to address stays, marked delivered; the bcc one is hidden.
out = run(message("lobby@groups.example.org", {
	{ "to", "bob@example.org" }, { "bcc", "carol@example.net" },
}));
check("to and bcc both delivered", #out == 2, #out .. " sent");
check("to address shown, delivered", out[2] and out[2]:find("<address[^>]*delivered='true'") ~= nil, out[2]);
check("bcc address hidden", out[2] and not out[2]:find("jid='carol@example.net'", 1, true), out[2]);

-- Refusals come back whole, with the error, to the sender.
local function refusal(out, condition)
	return #out == 1 and out[1]:find("type='error'", 1, true) and out[1]:find("<" .. condition, 1, true)
		and out[1]:find("to='[^']*'") and out[1]:find("<body>", 1, true) and out[1]:find("<addresses", 1, true);
end
out = run(message("mallory@example.org", { { "bcc", "bob@example.org" } }));
check("a sender not listed is forbidden, stanza returned", refusal(out, "forbidden"), out[1]);
check("the refusal goes to the sender", out[1] and out[1]:find("to='mallory@example.org'", 1, true), out[1]);
out = run(message("lobby@groups.example.org", {
	{ "bcc", "a@x" }, { "bcc", "b@x" }, { "bcc", "c@x" }, { "bcc", "d@x" },
}));
check("over the limit: not-acceptable", refusal(out, "not-acceptable"), out[1]);
out = run(message("lobby@groups.example.org", { { "noreply" } }));
check("no address with a jid: bad-request", refusal(out, "bad-request"), out[1]);
out = run(st.message({ from = "lobby@groups.example.org", to = "multicast.example.org", type = "error" }));
check("errors are never answered", #out == 0, out[1]);

-- The compact list (urn:talkgroups:bcc:0): whitespace-separated, all blind.
local function compact(from, text)
	return st.message({ from = from, to = "multicast.example.org", type = "chat", id = "tgm-8-0" })
		:text_tag("body", "[alice] hi")
		:text_tag("bcc", text, { xmlns = "urn:talkgroups:bcc:0" }):reset();
end
out = run(compact("lobby@groups.example.org", " bob@example.org\ncarol@example.net  dave@example.org/phone "));
check("one copy per listed jid", #out == 3, #out .. " sent");
check("compact: first to bob", out[1] and out[1]:find("to='bob@example.org'", 1, true), out[1]);
check("compact: full jid kept", out[3] and out[3]:find("to='dave@example.org/phone'", 1, true), out[3]);
check("compact: list removed", out[1] and not out[1]:find("bcc", 1, true), out[1]);
check("compact: id and body kept", out[1] and out[1]:find("id='tgm-8-0'", 1, true) and out[1]:find("[alice] hi", 1, true), out[1]);
out = run(compact("lobby@groups.example.org", "a@x b@x c@x d@x"));
check("compact over the limit: not-acceptable, list returned", #out == 1
	and out[1]:find("<not-acceptable", 1, true) and out[1]:find("a@x b@x c@x d@x", 1, true), out[1]);
out = run(compact("lobby@groups.example.org", "  "));
check("compact, empty: bad-request", #out == 1 and out[1]:find("<bad-request", 1, true), out[1]);
out = run(compact("mallory@example.org", "bob@example.org"));
check("compact from a sender not listed: forbidden", #out == 1 and out[1]:find("<forbidden", 1, true), out[1]);
local both = st.message({ from = "lobby@groups.example.org", to = "multicast.example.org", type = "chat" })
	:tag("addresses", { xmlns = "http://jabber.org/protocol/address" })
	:tag("address", { xmlns = "http://jabber.org/protocol/address", type = "bcc", jid = "bob@example.org" }):up():up()
	:text_tag("bcc", "carol@example.net", { xmlns = "urn:talkgroups:bcc:0" }):reset();
out = run(both);
check("addresses and the compact list together", #out == 2
	and out[2]:find("to='carol@example.net'", 1, true) and not out[2]:find("address", 1, true), out[2]);

-- disco#info names XEP-0033 and the compact list.
local replies = {};
local disco = assert(hooks["iq-get/host/http://jabber.org/protocol/disco#info:query"], "disco hook");
disco({
	origin = { send = function(s) replies[#replies + 1] = tostring(s); end },
	stanza = st.iq({ type = "get", from = "groups.example.org", to = "multicast.example.org", id = "d1" })
		:query("http://jabber.org/protocol/disco#info"),
});
check("disco: multicast identity", replies[1] and replies[1]:find("type='multicast'", 1, true), replies[1]);
check("disco: XEP-0033 feature", replies[1] and replies[1]:find("var='http://jabber.org/protocol/address'", 1, true), replies[1]);
check("disco: compact list feature", replies[1] and replies[1]:find("var='urn:talkgroups:bcc:0'", 1, true), replies[1]);

check("its read size is set once", #modes == 1, #modes .. " times");

if failures > 0 then
	print(failures .. " failed");
	os.exit(1);
end
print("all passed");
