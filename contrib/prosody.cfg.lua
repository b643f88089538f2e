-- Registering talkgroups with Prosody (0.12 or later).
--
-- Add the Component block below to /etc/prosody/prosody.cfg.lua (after the
-- VirtualHost sections), or save this file as
-- /etc/prosody/conf.d/talkgroups.cfg.lua (Debian's config includes conf.d/).
-- Then restart Prosody: a new component is activated by a restart, not by a
-- reload (SIGHUP).
--
-- The talkgroups config must match:
--   [component]
--   jid = "groups.example.org"       -- the Component name below
--   secret = "…"                     -- component_secret below
--   server = "127.0.0.1:5347"        -- component_interface:component_ports

---------- Global settings ----------
-- These belong in the global section of prosody.cfg.lua, before the first
-- VirtualHost or Component line (not in a conf.d file included at the end).
-- Prosody's component listener defaults to port 5347 on loopback only
-- (127.0.0.1, and ::1 where IPv6 is available),
-- which is what talkgroups expects. Uncomment only to change them.
--component_ports = { 5347 }
--component_interface = "127.0.0.1"

---------- The component ----------
-- The domain the groups live on: lobby@groups.example.org. Users on other
-- servers reach it over s2s, so give it a DNS record (or an SRV record
-- _xmpp-server._tcp.groups.example.org) pointing at this server, and a TLS
-- certificate covering it, like any other domain Prosody serves.
Component "groups.example.org"
	-- The shared secret; the same string as [component] secret in talkgroups'
	-- config. Use a long random one, e.g.: openssl rand -base64 32
	component_secret = "change-me-to-a-long-random-secret"

-- Prosody accepts one connection per component: a second talkgroups process
-- with the same domain is refused (<conflict/>). While talkgroups is down,
-- Prosody answers stanzas for the domain with errors; nothing is queued.

---------- Optional: XEP-0033 multicast for big groups ----------
-- Prosody parses every stanza a component sends it, so a message relayed
-- to N members costs it N parses; a MUC room's copies cost it about half.
-- mod_talkgroups_multicast (shipped beside this file, in contrib/prosody/)
-- lets talkgroups hand Prosody one stanza per message with the members as
-- bcc addresses, and routes the copies as the MUC does (BENCHMARKS.md).
-- plugin_paths is a global setting (see above): point it at the directory
-- holding mod_talkgroups_multicast.lua, e.g. where you installed it:
--plugin_paths = { "/usr/local/share/talkgroups/prosody" }
--
--Component "multicast.groups.example.org" "talkgroups_multicast"
--	-- Only these components may use it; anyone else gets <forbidden/>.
--	multicast_senders = { "groups.example.org" }
--	-- Addresses per stanza; larger stanzas get <not-acceptable/>.
--	multicast_max_addresses = 10000
--	-- Bytes read at a time from those components (Prosody's default is
--	-- 4096); larger reads let busy copies share writes.
--	multicast_sender_read_size = 262144
--
-- and in talkgroups' config:
--   [component]
--   multicast = "multicast.groups.example.org"
--   multicast_batch = 10000
