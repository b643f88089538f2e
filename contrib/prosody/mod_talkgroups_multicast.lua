-- mod_talkgroups_multicast: an XEP-0033 multicast service for Prosody,
-- for talkgroups (component.multicast) and other trusted components.
--
-- Prosody has no XEP-0033 service of its own, so a component that fans a
-- message out to N members hands Prosody N stanzas, and Prosody parses
-- every one of them: the copies a MUC room makes cost Prosody half as
-- much. With this service the component sends one stanza per message
-- with the recipients as `bcc` addresses; the service routes one copy per
-- address the way Prosody's MUC routes its own copies (the same stanza,
-- only `to` changed), so each copy costs about what a MUC copy costs.
--
-- Load it as an internal component, and name the components that may use
-- it (anyone else gets `forbidden`, so it is no amplifier for strangers):
--
--   plugin_paths = { "/usr/share/talkgroups/prosody" }  -- this directory
--   Component "multicast.example.org" "talkgroups_multicast"
--       multicast_senders = { "groups.example.org" }
--       multicast_max_addresses = 10000 -- per stanza (default 10000)
--       multicast_sender_read_size = 262144 -- see below (the default)
--
-- and in talkgroups' config: component.multicast = "multicast.example.org",
-- component.multicast_batch = 10000 (at most multicast_max_addresses).
--
-- Like ejabberd's mod_multicast, a refused stanza comes back whole, with
-- the error appended, so the sender can still deliver its copies itself:
-- `forbidden` for a sender not listed, `not-acceptable` for more addresses
-- than multicast_max_addresses, `bad-request` for no usable address.
-- `to` and `cc` addresses stay in the copies, marked delivered='true';
-- `bcc` addresses are removed (XEP-0033 §4.6). Address `jid`s are not
-- stringprepped: a listed sender is trusted to send normalized JIDs, as
-- talkgroups does.
--
-- A sender's connection is read multicast_sender_read_size bytes at a time
-- from its first multicast on (Prosody reads a component 4096 bytes at a
-- time: network_default_read_size). One stanza for 200 members is ≈ 8 KB;
-- read 4 KB at a time, each stanza's copies were written out on their own,
-- one system call each, while copies of several stanzas read at once go out
-- together, several per write to each member, as a MUC's do when busy
-- (talkgroups' BENCHMARKS.md, session 6: 1.008 -> 0.074 writes per copy).
-- A read takes only what is queued, so this matters only when Prosody is
-- behind; then one read may hold many stanzas and Prosody works through
-- their copies in one go, as it does a busy MUC room's. A smaller value
-- bounds that turn, at the price of more writes per copy.
--
-- A compact list. Prosody's stream parser builds a table for every element
-- it reads, so 200 <address/> elements cost it ≈ 5.5 million instructions
-- per stanza, ≈ 27 000 per copy: more than the rest of a copy's routing
-- saves on a MUC's. The service therefore also takes the recipients as one
-- text, whitespace-separated bare or full JIDs, all of them blind:
--
--   <bcc xmlns='urn:talkgroups:bcc:0'>bob@example.org carol@example.net</bcc>
--
-- which parses in one piece, ≈ 500 instructions per recipient instead of
-- ≈ 27 000. The element is removed from the copies, as bcc addresses are;
-- it may come with or instead of <addresses/>. The service advertises it in disco#info
-- (feature urn:talkgroups:bcc:0), and talkgroups uses it only then.

local st = require "util.stanza";
local jid_split = require "util.jid".split;

local xmlns_address = "http://jabber.org/protocol/address";
local xmlns_stanzas = "urn:ietf:params:xml:ns:xmpp-stanzas";
local xmlns_disco_info = "http://jabber.org/protocol/disco#info";
local xmlns_bcc = "urn:talkgroups:bcc:0";

local senders = module:get_option_set("multicast_senders", {});
local max_addresses = module:get_option_number("multicast_max_addresses", 10000);
local sender_read_size = module:get_option_number("multicast_sender_read_size", 262144);

if senders:empty() then
	module:log("warn", "multicast_senders is empty: every multicast will be refused");
end

-- The whole stanza back to its sender, with the error appended.
local function refuse(stanza, error_type, condition, text)
	local reply = st.clone(stanza):reset();
	reply.attr.type = "error";
	reply.attr.to, reply.attr.from = stanza.attr.from, stanza.attr.to;
	reply:tag("error", { type = error_type })
		:tag(condition, { xmlns = xmlns_stanzas }):up()
		:text_tag("text", text, { xmlns = xmlns_stanzas })
		:up();
	module:send(reply);
	return true;
end

module:hook("message/host", function(event)
	local stanza = event.stanza;
	if stanza.attr.type == "error" then
		return true; -- never answer an error (no loops)
	end
	local _, from_host = jid_split(stanza.attr.from);
	if not senders:contains(from_host) then
		module:log("debug", "refused multicast from %s", stanza.attr.from);
		return refuse(stanza, "auth", "forbidden", "not a multicast sender here");
	end
	local origin = event.origin;
	if not origin.multicast_read_size then
		-- Every network backend's connections have set_mode (the read size).
		local conn = origin.conn;
		if conn and conn.set_mode then
			conn:set_mode(sender_read_size);
		end
		origin.multicast_read_size = sender_read_size;
	end
	local addresses = stanza:get_child("addresses", xmlns_address);
	local bcc = stanza:get_child("bcc", xmlns_bcc);
	if not addresses and not bcc then
		return refuse(stanza, "modify", "bad-request", "no addresses");
	end
	local targets, shown = {}, false;
	if addresses then
		for address in addresses:childtags("address", xmlns_address) do
			local kind, jid = address.attr.type, address.attr.jid;
			if jid and (kind == "to" or kind == "cc" or kind == "bcc") then
				targets[#targets + 1] = jid;
				shown = shown or kind ~= "bcc";
			end
		end
	end
	if bcc then
		for jid in (bcc:get_text() or ""):gmatch("%S+") do
			targets[#targets + 1] = jid;
		end
	end
	if #targets == 0 then
		return refuse(stanza, "modify", "bad-request", "no address with a jid");
	end
	if #targets > max_addresses then
		return refuse(stanza, "modify", "not-acceptable",
			"at most " .. max_addresses .. " addresses per stanza");
	end

	-- What every recipient gets: this very stanza (the event's: nothing
	-- else holds it, and no copy is made) without the bcc addresses.
	stanza:maptags(function(tag)
		if tag.name == "bcc" and tag.attr.xmlns == xmlns_bcc then
			return nil;
		end
		if tag.name ~= "addresses" or tag.attr.xmlns ~= xmlns_address then
			return tag;
		end
		if not shown then
			return nil;
		end
		tag:maptags(function(a)
			if a.name == "address" and a.attr.type == "bcc" then
				return nil;
			end
			if a.name == "address" and (a.attr.type == "to" or a.attr.type == "cc") then
				a.attr.delivered = "true";
			end
			return a;
		end);
		return tag;
	end);
	-- As Prosody's MUC fans out: one stanza, `to` set per recipient.
	for i = 1, #targets do
		stanza.attr.to = targets[i];
		module:send(stanza);
	end
	return true;
end);

-- disco#info: a multicast service (XEP-0033 §2.1).
module:hook("iq-get/host/" .. xmlns_disco_info .. ":query", function(event)
	local origin, stanza = event.origin, event.stanza;
	if stanza.tags[1].attr.node then
		return; -- no nodes: Prosody's default answer
	end
	origin.send(st.reply(stanza)
		:tag("query", { xmlns = xmlns_disco_info })
		:tag("identity", { category = "service", type = "multicast", name = "Multicast" }):up()
		:tag("feature", { var = xmlns_disco_info }):up()
		:tag("feature", { var = xmlns_address }):up()
		:tag("feature", { var = xmlns_bcc }):up());
	return true;
end);
