# talkgroups: what members read, in English. Every id here exists in
# zh.ftl too (a test checks). Command names (//help, //nick…) stay as they
# are in every language; so do JIDs, nicks and relayed text.

## Commands: the framework

cmd-unknown = Unknown command //{ $cmd }. Send //help for the list.
cmd-service-only = //{ $cmd } is a service command: send it to { $domain }.
cmd-admin-only = //{ $cmd } is for group admins.
cmd-not-member = You are not a member of { $title }. To join, add { $gjid } to your contacts.
usage = usage: { $syntax } — { $help }
usage-example =
    { $usage }
    e.g. { $example }
help-header = Commands:
help-none = No command //{ $name }. Send //help for the list.
ok = OK

## What each command does (//help)

cmd-help = list commands, or show one command's usage
cmd-online = who is online: nick and id
cmd-nick = set your nickname
cmd-setid = choose your id (once)
cmd-block = stop receiving that member's messages
cmd-unblock = receive that member's messages again
cmd-m = private message to that member
cmd-showinfo = nick, id, admin, online, joined date of a member
cmd-stop = receive nothing for SECONDS (-1 ends it); missed messages are never delivered
cmd-continue = end //stop
cmd-history = the last N messages (default 20, max 200)
cmd-lang = the language of replies to you: en (English) or zh (Chinese); auto follows your client
cmd-leave = leave the group
cmd-whois = that member's JID
cmd-add = approve or invite JID; for a member, reset their profile
cmd-allok = approve every pending request
cmd-listuser = every member and pending JID
cmd-kick = remove JID without blacklisting
cmd-blacklist = ban JID and remove them
cmd-pass = lift JID's ban
cmd-admin = make JID an admin
cmd-unadmin = revoke JID's admin rights
cmd-mute = that member's messages are not relayed
cmd-unmute = relay that member's messages again
cmd-addroutesend = post every message said here to URL; FORMAT talkgroups (default), slack, discord, wecom, feishu or matterbridge; PASSWORD - for none
cmd-addrouterecv = accept messages posted to /routes/GROUP/NAME; they are not sent out again on send route NOLOOP
cmd-delroute = delete a route and its undelivered messages
cmd-routes = this group's routes with their delivery status
cmd-addbridge = bridge this group with a Slack, Feishu, Lark, WeCom, DingTalk, Telegram or Google Chat conversation (keys: see the docs)
cmd-delbridge = delete a bridge and its undelivered messages
cmd-bridges = this group's bridges with their status (never their secrets)
cmd-addmuc = bridge this group with an XMPP group chat room (the nick defaults to the group's title)
cmd-delmuc = leave a room and delete its bridge
cmd-mucs = this group's room bridges with their state
cmd-delete = remove a message for everyone: send it as a reply to that message
cmd-token = API tokens for this group (the operations API, /api/v1)
cmd-newgroup = create a group
cmd-delgroup = delete a group and all its data
cmd-groups = list all groups

## //lang

lang-name-en = English
lang-name-zh = Chinese
lang-set = OK, replies to you are now in { $lang }.
lang-auto = OK, replies to you now follow your client's language, else the group's ({ $lang } now).
lang-now-set = Replies to you are in { $lang }: you chose it. //lang en, //lang zh or //lang auto changes it.
lang-now-client = Replies to you are in { $lang }, your client's language. //lang en or //lang zh fixes one.
lang-now-group = Replies to you are in { $lang }, the group's language. //lang en or //lang zh fixes one.
lang-unknown = Unknown language { $lang }: use en (English), zh (Chinese) or auto.

## Every member's commands

online-list = Online ({ $online } of { $total }): { $list }
nick-refused = Nick refused: { $why }.
nick-empty = a nick needs at least one visible character
nick-too-long = a nick has at most 32 characters
nick-bracket = a nick cannot contain { $c } (brackets frame nicks in relayed lines)
nick-invisible = a nick cannot contain the invisible character { $code } (control, bidi and zero-width characters are refused)
nick-taken = The nick { $nick } is taken.
nick-ok = OK, you are now { $nick }.
notice-nick = *** { $old } is now { $nick }
setid-once = Your id is { $fid } already: it can be changed only once.
setid-taken = The id { $fid } is taken.
setid-ok = OK, your id is now { $fid }.
no-such-id = No member has the id { $fid }.
block-self = You cannot block yourself.
msg-self = That is you.
msg-paused = { $nick } has paused the group (//stop) and receives nothing now.
msg-too-long = Not sent: the limit is { $max } characters.
msg-private = [{ $nick } → you] { $text }
showinfo = { $nick } (id { $fid }): { $role }, { $state }, joined { $date }
role-admin = admin
role-member = member
state-online = online
state-offline = offline
stop-off = OK, you receive the group's messages again.
stop-until = OK, you receive nothing until { $until } UTC (//continue ends it). What is said meanwhile will not be delivered later.
history-empty = No messages yet.
history-header = Last { $n } messages (UTC):
history-removed = { $at } [{ $nick }] (message removed)
history-corrected = { $at } { $line } (corrected)

## Relaying

stranger-pending = Your request to join { $title } still waits for an admin; nothing was sent.
stranger-invited = You are invited to { $title }: accept the group's contact request to join; nothing was sent.
stranger = You are not a member of { $title }, so nothing was sent. To join, add { $gjid } to your contacts.
muted = You are muted by an admin: nothing you send is relayed.
too-long = Not sent: your message has { $len } characters; the limit is { $max }.
only-own = You can only correct or retract your own messages.
retract-unknown = That message is unknown here (or too old): it cannot be retracted.
flood = Slow down: at most { $burst } messages in { $secs } s. Messages over the limit are not relayed.
catchup-more = … { $skipped } earlier messages not shown: //history { $n } shows them.

## Joining and leaving

join-still-waiting = Your request to join { $title } still waits for an admin.
join-waiting = Your request to join { $title } waits for an admin's approval. You will be told when you are in.
welcome = Welcome to { $title }! What you send here goes to the group ({ $count ->
        [one] { $count } member
       *[other] { $count } members
    }). You are { $nick } (id { $fid }). //help lists commands; //nick NAME changes your nickname.
notice-joined = *** { $nick } joined
notice-left = *** { $nick } left
notice-removed = *** { $nick } was removed
left = You left { $title }.
removed = You were removed from { $title } by an admin.
new-admin = The last admin of { $title } left: you are its admin now. //help lists admin commands.

## Removing a message

delete-unknown = That message is unknown here (or too old): nothing was removed.
delete-gone = That message was removed already.
delete-ok = OK, the message is removed for everyone.
retracted = This message was retracted; your client does not show retractions.
join-invite-only = { $title } is by invitation only: ask one of its admins to //add you.
notice-asks = { $jid } asks to join — //add { $jid } or //allok

## Group admins' commands

whois = { $fid } ({ $nick }) is { $jid }
add-blacklisted = { $jid } is blacklisted: //pass { $jid } first.
add-approved = OK, { $jid } is now a member.
add-reset = OK, { $jid }'s profile was reset (nick { $nick }, id { $fid }).
add-reinvited = { $jid } was already invited; the request was sent again.
add-invited = OK, { $jid } is invited: they join when they accept the group's contact request.
allok-none = No pending requests.
allok-ok = OK, approved { $n }: { $list }
listuser-header = { $n } entries:
listuser-line = { $jid } — { $state }{ $admin }, nick { $nick }, id { $fid }{ $flags }
listuser-admin = , admin
listuser-muted = , muted
listuser-online = , online
listuser-blacklist = blacklisted: { $list }
state-member = member
state-pending = pending
state-invited = invited
kick-self = Use //leave to leave.
kick-not-in = { $jid } is not in this group.
kick-service-admin = A service admin cannot be kicked.
kick-ok = OK, { $jid } was removed.
blacklist-self = You cannot blacklist yourself.
blacklist-service-admin = A service admin cannot be blacklisted.
blacklist-already = { $jid } is already blacklisted.
blacklist-ok = OK, { $jid } is blacklisted.
pass-not = { $jid } is not blacklisted.
pass-ok = OK, { $jid } may join again.
not-a-member = { $jid } is not a member.
admin-already = { $jid } is already an admin.
admin-not = { $jid } is not an admin.
admin-last-you = You are the last admin: make someone else admin first.
admin-last = { $jid } is the last admin: make someone else admin first.
admin-granted = You are now an admin of { $title }. //help lists admin commands.
admin-revoked = You are no longer an admin of { $title }.
mute-already = { $fid } is already muted.
mute-not = { $fid } is not muted.
muted-you = An admin muted you: what you send is not relayed until they //unmute you.
unmuted-you = An admin unmuted you: what you send is relayed again.
token-made =
    OK, token { $id } made for the operations API ({ $scope }):
    { $token }
    It is shown only now. Note: this reply may be kept in your server's message archive; `talkgroups token add` on the server keeps a token out of it.
token-line = { $id } made { $made }
token-line-label = { $id } made { $made }: { $label }
token-none = No API tokens for this group. //token new makes one.
token-list = API tokens of this group:
token-unknown = No token { $id } for this group. //token list shows them.
token-revoked = OK, token { $id } revoked.

## The service domain

service-group-command = //{ $cmd } works in a group: send it to the group's address (//groups lists them).
service-refused = Refused: //{ $cmd } is for the service's admins.
service-help = Here you find the groups of { $domain }: //groups lists them. To join one, add its address as a contact; in a group, //help lists its commands. Creating and deleting groups is for the service's admins.
groups-none = No groups.
groups-line = { $jid } — { $title } ({ $join }, { $members } members, { $online } online, { $pending } pending)
groups-mine = Your groups:
groups-waiting = Waiting for an admin's approval:
groups-joinable = Groups you can join (add one as a contact):
groups-joinable-line = { $jid } — { $title } ({ $join }, { $members } members)
groups-none-open = No other groups are open to join here.
join-open = open
join-approve = approve
join-invite = invite
newgroup-exists = The group { $name } already exists.
newgroup-ok = OK, created { $jid } ({ $join }). Add it as a contact to join.
delgroup-none = No group { $name }.
delgroup-ok = OK, deleted { $jid }.
delgroup-notice = { $title } was deleted by the service admin.

## Routes

route-signed = Routes in the talkgroups format are signed: give a password of at least 8 characters.
route-short-password = Passwords have at least 8 characters.
route-bad-url = Not a valid http:// or https:// URL: { $url }
route-password-unused = {" "}(this format does not use the password)
route-send-ok = OK, route { $name } sends every message said here to { $url } ({ $format }){ $note }.
route-noloop = {" "}Messages from it are not sent out on route { $route }.
route-recv-ok = OK, route { $name } receives at POST /routes/{ $group }/{ $name }.{ $noloop }
route-bad-name = Route names are 1–64 of a-z 0-9 . _ - (starting with a letter or digit): { $name }
route-exists = A route or bridge named { $name } exists: delete it first.
route-none = No route named { $name }. //routes lists them.
route-is-bridge = { $name } is a bridge: //delbridge { $name }.
route-is-muc = { $name } is a room bridge: //delmuc { $name }.
kind-route = route
kind-bridge = bridge
kind-muc = room bridge
route-deleted = OK, { $what } { $name } deleted.
route-deleted-dropped = OK, { $what } { $name } deleted; { $n } undelivered messages dropped.
routes-none = No routes. //addroutesend and //addrouterecv create them.
never = never
routes-header = Routes of { $title }:
routes-send = send { $name } → { $url } ({ $format }): last success { $ok }, last error { $error }, { $queued } queued
routes-noloop = , not sent back on { $route }
routes-recv = recv { $name } ← POST /routes/{ $group }/{ $name }{ $noloop }: last message { $last }

## Bridges

bridge-refused = Not added: { $why }.
bridge-send-only = It only sends (Google Chat has no bot callback here).
bridge-callback = Point the platform's callback at https://YOUR-HTTP-LISTENER/bridges/{ $group }/{ $name }.
bridge-ok = OK, bridge { $name } ({ $platform }) added. { $inbound } Note: this command, with its secrets, may be kept in your server's message archive; a [[bridge]] table in the config file (with *_file or *_env keys) keeps them out of it.
bridge-is-route = { $name } is a route: //delroute { $name }.
bridge-none = No bridge named { $name }. //bridges lists them.
bridge-from-config = Bridge { $name } comes from the config file: remove its [[bridge]] table there and restart.
bridges-line = { $name } ({ $platform }{ $config }): last inbound { $inbound }, last outbound success { $ok }, last error { $error }, { $queued } queued; keys { $keys }
bridges-from-config = , from the config
bridges-none = No bridges. //addbridge creates one.
bridges-header = Bridges of { $title }:

## Room bridges

muc-bad-name = Not added: room bridge names are 1-32 of a-z, 0-9, _ and -, starting with a letter or digit.
muc-already = This group is bridged with { $room } already ({ $name }).
muc-bad-nick = Not added: { $nick } is not a usable room nick.
muc-ok = OK, room bridge { $name } added: joining { $room } as { $nick }. //mucs shows how it goes.
muc-password-note = {" "}Note: this command, with the room's password, may be kept in your server's message archive; a [[muc]] table in the config file (with password_file or password_env) keeps it out of it.
muc-none = No room bridge named { $name }. //mucs lists them.
muc-from-config = Room bridge { $name } comes from the config file: remove its [[muc]] table there and restart.
muc-state-joined = joined
muc-state-joining = joining
muc-state-error = error
muc-joined-as = joined as { $nick }
mucs-puppets = , puppets
mucs-line = { $name } ({ $room }{ $flags }): { $state }; { $sent } sent to the room, { $received } relayed from it
mucs-none = No room bridges. //addmuc creates one.
mucs-header = Room bridges of { $title }:

## Arguments refused

setid-refused = Id refused: use 1–32 of A-Z a-z 0-9 _ . -
newgroup-bad-name = Group name refused: use lowercase [a-z0-9][a-z0-9._-], at most 64.
bridge-unknown-platform = Unknown platform { $platform }: use one of { $all }.
bridge-key-value = Give keys as key=value: { $key } is not.
bridge-key-twice = { $key } is given twice.
route-unknown-format = Unknown format { $format }: use one of { $all }.
route-not-a-name = { $name } is not a route name.
token-label-long = A label is at most 100 characters.
muc-not-understood = { $word } is not understood: give NICK, nick=NICK, password=PW or puppets.

## The group's presence

status-line = { $title } — { $online } of { $members } online

## Room bridges: why a room is not joined (//mucs, notices to admins)

muc-state-why = { $state }: { $why }
muc-reason-said = { $what }: { $said }
muc-notice-retry = Room bridge { $name }: { $why }. Trying again in { $secs } s.
muc-notice-failed = Room bridge { $name }: { $why }. Not trying again: fix it, then //delmuc { $name } and //addmuc it again.
muc-pm-answer = This occupant is a bridge to a group: it relays what is said in the room, but does not read private messages.
muc-why-password = wrong or missing room password
muc-why-members-only = the room is members-only
muc-why-banned = banned from the room
muc-why-no-room = no such room, and it may not be created
muc-why-not-created = the room may not be created
muc-why-full = the room is full or unavailable
muc-why-unreachable = cannot reach the room's server ({ $condition })
muc-why-refused-as = the room refused the join ({ $condition })
muc-why-refused = the room refused the join
muc-why-destroyed = the room was destroyed
muc-why-kicked = kicked from the room
muc-why-affiliation = removed from the room (affiliation changed)
muc-why-now-members-only = removed: the room became members-only
muc-why-shutdown = the room's service is shutting down
muc-why-left = left the room
muc-why-gone = not in the room any more
muc-why-nicks-taken = every nick tried is in use in the room
muc-why-unknown-occupant = lost: the room no longer knows the occupant
muc-why-no-answer = the room did not answer the join
muc-why-ping = lost: no answer to the self-ping
room-has-resource = { $room } has a resource: give the room's bare JID (room@service)
room-not-a-room = { $room } is not a room JID (room@service)
room-own-group = { $room } is one of this service's own groups, not a room

## Bridge keys refused (//addbridge; the config file's errors are these in English)

bridge-bad-name = bridge names are 1–32 of a-z 0-9 _ - starting with a letter or digit: { $name }
bridge-key-unknown = unknown key { $key } for { $platform }
bridge-key-empty = key { $key } is empty
bridge-key-missing = missing key { $key }
bridge-key-url = { $key } must be an absolute http(s) URL with a host
bridge-key-rate = rate must be COUNT/WINDOW such as 20/60s, 5/1s or 20/min (got "{ $got }")
bridge-slack-webhook = missing key webhook (or bot_token and channel)
bridge-wecom-key-length = encoding_aes_key must be 43 characters (got { $n })
bridge-wecom-key-base64 = encoding_aes_key does not decode to 32 bytes (Base64)
bridge-telegram-secret = secret_token must be 1-256 characters of A-Z, a-z, 0-9, _ and -
bridge-telegram-chat = chat_id must be the numeric chat id, e.g. -1001234567890 (got "{ $got }")

## Stanza errors (the text of an <error/>, shown by clients)

err-unsaved = talkgroups could not save this; nothing was done. Try again later.
err-not-a-room = This is a contact, not a chat room: send chat messages.
err-message-type = Unknown message type.
err-no-group = No such group.
err-iq-type = An iq's type must be get or set.
err-iq-payload = An iq needs exactly one payload.
err-no-node = No such node.
err-presence-type = Unknown presence type.

## Profiles (vCard) and reminders

vcard-group = Group chat (joining: { $join }): add { $gjid } as a contact to join.
vcard-service = Roster-based group chats. Send a message here to see the groups.
pending-reminder = { $n } waiting to join { $title }: { $jids } — //add JID or //allok

## Ad-hoc commands (forms in Gajim, Conversations, Cheogram, Psi)

adhoc-approve = Approve pending requests
adhoc-approve-intro = Choose the requests to approve.
adhoc-remove = Remove a member
adhoc-remove-intro = Remove a member; blacklisting also keeps them from coming back.
adhoc-mute = Mute or unmute
adhoc-mute-intro = A muted member's messages are not relayed.
adhoc-edit = Edit the group
adhoc-edit-intro = The group's title and who may join.
adhoc-announce = Send an announcement
adhoc-announce-intro = Sent to every member from the group itself.
adhoc-settings = My settings
adhoc-settings-intro = Your nick in this group, a pause (seconds; 0 ends one) and the language of replies to you.
adhoc-create = Create a group
adhoc-create-intro = A new group; its address is NAME@this service.
adhoc-delete = Delete a group
adhoc-delete-intro = Members are told, and the group is gone with all its data.
adhoc-field-pending = Pending requests
adhoc-field-member = Member
adhoc-field-how = How
adhoc-how-kick = Remove
adhoc-how-blacklist = Remove and blacklist
adhoc-field-muted = Muted
adhoc-field-title = Title
adhoc-field-join = Joining
adhoc-field-announcement = Announcement
adhoc-field-nick = Nick
adhoc-field-pause = Pause (seconds)
adhoc-field-lang = Language
adhoc-lang-auto = As my client
adhoc-field-name = Name
adhoc-field-group = Group
adhoc-no-command = No such command.
adhoc-not-here = That command is not offered here.
adhoc-members-only = This command is for the group's members.
adhoc-admins-only = This command is for the group's admins.
adhoc-service-admins-only = This command is for the service's admins.
adhoc-done = Done.
adhoc-choose-request = Choose at least one request.
adhoc-choose-member = Choose a member.
adhoc-choose-group = Choose a group.
adhoc-not-member = Not a member of this group.
adhoc-bad-title = A title has at most 100 printable characters.
adhoc-bad-join = Joining is open, approve or invite.
adhoc-edited = The group is changed.
adhoc-empty-announcement = The announcement is empty.
adhoc-long-announcement = An announcement has at most { $max } characters.
adhoc-announced = Sent to the members.
adhoc-bad-pause = The pause is a number of seconds.
adhoc-bad-lang = The language is auto, en or zh.
adhoc-unchanged = Nothing changed.

## The web admin page (/admin/): its labels; { $name } marks what the page fills in

web-page-title = talkgroups admin
web-skip = Skip to content
web-language = Language
web-sign-out = Sign out
web-sign-in-title = Sign in
web-token-label = API token
web-sign-in = Sign in
web-token-hint = Make a token with “talkgroups token add” or, as a group admin, “//token new”.
web-bad-token = This token was not accepted. Check it and try again.
web-no-token = Type a token first.
web-out-of-scope = This token does not reach that group.
web-groups = Groups
web-group = Group
web-title = Title
web-join-policy = Joining
web-members = Members
web-online = Online
web-pending = Pending
web-no-groups = No groups.
web-all-groups = ← All groups
web-announce = Announcement
web-announce-label = Said by the group to every member
web-send = Send
web-sent = Announcement sent.
web-messages = Latest messages
web-live = Live.
web-reconnecting = Connection lost; reconnecting…
web-pending-requests = Pending requests
web-no-pending = No one is waiting.
web-approve = Approve
web-member = Member
web-nick = Nick
web-admin = Admin
web-muted = Muted
web-actions = Actions
web-mute = Mute
web-unmute = Unmute
web-kick = Kick
web-confirm-kick = Remove { $jid } from the group?
web-blacklist = Blacklist
web-blacklist-add = Add an address
web-add = Add
web-remove = Remove
web-no-blacklist = The blacklist is empty.
web-links = Routes, bridges and rooms
web-name = Name
web-kind = Kind
web-target = Target
web-status = Status
web-no-links = None.
web-k-send = send route
web-k-receive = receive route
web-k-bridge = bridge
web-k-muc = room
web-yes = yes
web-no = no
web-never = never
web-queued = { $n } queued
web-last-ok = delivered { $at }
web-last-error = failed { $at }: { $error }
web-last-received = last received { $at }
web-room-state = { $state }
web-meta = { $jid } · joining: { $join } · { $members } members, { $online } online
web-j-open = open
web-j-approve = on approval
web-j-invite = by invitation
web-notice-from-group = (the group)
web-failed = That did not work: { $message }
web-offline = The service cannot be reached.
web-loading = Loading…
web-message-removed = message removed
