# talkgroups：成员看到的中文文字。这里的每个 id 在 en.ftl 中都有（有测试检查）。
# 命令名（//help、//nick……）在各语言中保持不变；JID、昵称和转发的内容也不翻译。

## 命令：通用

cmd-unknown = 没有 //{ $cmd } 这个命令。发送 //help 查看命令列表。
cmd-service-only = //{ $cmd } 是服务命令，请发给 { $domain }。
cmd-admin-only = //{ $cmd } 只有群管理员可以使用。
cmd-not-member = 你还不是 { $title } 的成员。要加入，请把 { $gjid } 加为联系人。
usage = 用法：{ $syntax } — { $help }
usage-example =
    { $usage }
    例如：{ $example }
help-header = 命令列表：
help-none = 没有 //{ $name } 这个命令。发送 //help 查看命令列表。
ok = 好的

## 各命令的说明（//help）

cmd-help = 列出所有命令，或查看某个命令的用法
cmd-online = 查看谁在线：昵称和 ID
cmd-nick = 设置你的昵称
cmd-setid = 设置你的 ID（只能设置一次）
cmd-block = 不再接收这位成员的消息
cmd-unblock = 重新接收这位成员的消息
cmd-m = 给这位成员发私信
cmd-showinfo = 查看成员的昵称、ID、是否管理员、是否在线和加入日期
cmd-stop = 在 SECONDS 秒内不接收任何消息（填 -1 提前结束）；期间错过的消息不会补发
cmd-continue = 结束 //stop
cmd-history = 查看最近 N 条消息（默认 20 条，最多 200 条）
cmd-lang = 设置回复你时用的语言：en（英文）或 zh（中文）；auto 表示跟随你的客户端
cmd-leave = 退出本群
cmd-whois = 查看这位成员的 JID
cmd-add = 批准或邀请 JID；对已有成员则重置其资料
cmd-allok = 批准所有待审核的申请
cmd-listuser = 列出所有成员和待审核的 JID
cmd-kick = 移出 JID（不拉黑）
cmd-blacklist = 把 JID 加入黑名单并移出本群
cmd-pass = 把 JID 移出黑名单
cmd-admin = 把 JID 设为管理员
cmd-unadmin = 撤销 JID 的管理员身份
cmd-mute = 禁言：不再转发这位成员的消息
cmd-unmute = 解除禁言，重新转发这位成员的消息
cmd-addroutesend = 把群里的每条消息发送到 URL；FORMAT 可为 talkgroups（默认）、slack、discord、wecom、feishu 或 matterbridge；不设密码时 PASSWORD 填 -
cmd-addrouterecv = 接收发到 /routes/GROUP/NAME 的消息；这些消息不会再经发送路由 NOLOOP 转发出去
cmd-delroute = 删除一条路由及其未送达的消息
cmd-routes = 查看本群的路由及其投递状态
cmd-addbridge = 把本群与 Slack、飞书、Lark、企业微信、钉钉、Telegram 或 Google Chat 的会话桥接（参数见文档）
cmd-delbridge = 删除一个桥接及其未送达的消息
cmd-bridges = 查看本群的桥接及其状态（不显示密钥）
cmd-addmuc = 把本群与一个 XMPP 群聊房间桥接（昵称默认为群名称）
cmd-delmuc = 退出房间并删除该桥接
cmd-mucs = 查看本群的房间桥接及其状态
cmd-delete = 为所有人删除一条消息：回复那条消息来发送此命令
cmd-token = 管理本群的 API 令牌（运维 API，/api/v1）
cmd-newgroup = 创建一个群
cmd-delgroup = 删除一个群及其全部数据
cmd-groups = 列出所有群

## //lang

lang-name-en = 英文
lang-name-zh = 中文
lang-set = 好的，以后用{ $lang }回复你。
lang-auto = 好的，以后按你客户端的语言回复你；客户端没有指定语言时用本群的语言（现在是{ $lang }）。
lang-now-set = 现在用{ $lang }回复你，这是你选的。发送 //lang en、//lang zh 或 //lang auto 可以更改。
lang-now-client = 现在用{ $lang }回复你，这是你客户端的语言。发送 //lang en 或 //lang zh 可以固定用一种语言。
lang-now-group = 现在用{ $lang }回复你，这是本群的语言。发送 //lang en 或 //lang zh 可以固定用一种语言。
lang-unknown = 不支持“{ $lang }”这种语言：请用 en（英文）、zh（中文）或 auto。

## 所有成员都能用的命令

online-list = 在线（{ $online }/{ $total }）：{ $list }
nick-refused = 昵称不可用：{ $why }。
nick-empty = 昵称至少要有一个可见字符
nick-too-long = 昵称最多 32 个字符
nick-bracket = 昵称不能包含 { $c }（转发的消息里用方括号括住昵称）
nick-invisible = 昵称不能包含不可见字符 { $code }（控制字符、双向控制符和零宽字符都不允许）
nick-taken = 昵称 { $nick } 已被占用。
nick-ok = 好的，你的昵称已改为 { $nick }。
notice-nick = *** { $old } 改名为 { $nick }
setid-once = 你的 ID 已经是 { $fid }，ID 只能改一次。
setid-taken = ID { $fid } 已被占用。
setid-ok = 好的，你的 ID 现在是 { $fid }。
no-such-id = 没有 ID 为 { $fid } 的成员。
block-self = 你不能屏蔽自己。
msg-self = 那是你自己。
msg-paused = { $nick } 已暂停接收本群消息（//stop），现在收不到任何消息。
msg-too-long = 未发送：消息最多 { $max } 个字符。
msg-private = [{ $nick } → 你] { $text }
showinfo = { $nick }（ID { $fid }）：{ $role }，{ $state }，加入于 { $date }
role-admin = 管理员
role-member = 成员
state-online = 在线
state-offline = 离线
stop-off = 好的，已恢复接收本群消息。
stop-until = 好的，UTC { $until } 之前你不会收到任何消息（发送 //continue 可提前恢复）。这期间的消息之后也不会补发。
history-empty = 还没有消息。
history-header = 最近 { $n } 条消息（UTC 时间）：
history-removed = { $at } [{ $nick }]（消息已删除）
history-corrected = { $at } { $line }（已更正）

## 转发

stranger-pending = 你加入 { $title } 的申请还在等管理员审核，这条消息没有发出。
stranger-invited = 你已被邀请加入 { $title }：接受本群发来的联系人请求即可加入。这条消息没有发出。
stranger = 你不是 { $title } 的成员，这条消息没有发出。要加入，请把 { $gjid } 加为联系人。
muted = 你已被管理员禁言，你发的消息不会被转发。
too-long = 未发送：你的消息有 { $len } 个字符，超过了 { $max } 个字符的上限。
only-own = 你只能更正或撤回自己的消息。
retract-unknown = 找不到这条消息（也可能是太旧了），无法撤回。
flood = 发得太快了：{ $secs } 秒内最多 { $burst } 条消息，超出的不会被转发。
catchup-more = ……还有 { $skipped } 条更早的消息没有显示，发送 //history { $n } 可以查看。

## 加入和离开

join-still-waiting = 你加入 { $title } 的申请还在等管理员审核。
join-waiting = 你加入 { $title } 的申请正在等管理员审核，通过后会通知你。
welcome = 欢迎加入 { $title }！你在这里发的消息会转发给全群（共 { $count } 位成员）。你的昵称是 { $nick }（ID { $fid }）。发送 //help 查看命令；发送 //nick 新昵称 可以改名。
notice-joined = *** { $nick } 加入了本群
notice-left = *** { $nick } 退出了本群
notice-removed = *** { $nick } 被移出了本群
left = 你已退出 { $title }。
removed = 你已被管理员移出 { $title }。
new-admin = { $title } 的最后一位管理员已经离开，现在由你担任管理员。发送 //help 可查看管理命令。

## 删除消息

delete-unknown = 找不到这条消息（也可能是太旧了），没有删除任何内容。
delete-gone = 这条消息已经删除过了。
delete-ok = 好的，这条消息已为所有人删除。
retracted = 这条消息已被撤回；你的客户端不支持显示撤回。
join-invite-only = { $title } 仅限邀请加入：请找一位管理员用 //add 邀请你。
notice-asks = { $jid } 申请加入，发送 //add { $jid } 或 //allok 批准

## 群管理员的命令

whois = { $fid }（{ $nick }）的 JID 是 { $jid }
add-blacklisted = { $jid } 在黑名单中：请先发送 //pass { $jid }。
add-approved = 好的，{ $jid } 现在是成员了。
add-reset = 好的，已重置 { $jid } 的资料（昵称 { $nick }，ID { $fid }）。
add-reinvited = 之前已邀请过 { $jid }，现已重新发送邀请。
add-invited = 好的，已邀请 { $jid }：对方接受群的联系人请求后即可加入。
allok-none = 没有待审核的申请。
allok-ok = 好的，已批准 { $n } 人：{ $list }
listuser-header = 共 { $n } 条：
listuser-line = { $jid } — { $state }{ $admin }，昵称 { $nick }，ID { $fid }{ $flags }
listuser-admin = ，管理员
listuser-muted = ，已禁言
listuser-online = ，在线
listuser-blacklist = 黑名单：{ $list }
state-member = 成员
state-pending = 待审核
state-invited = 已邀请
kick-self = 要退出请发送 //leave。
kick-not-in = { $jid } 不在本群。
kick-service-admin = 不能移出服务管理员。
kick-ok = 好的，已移出 { $jid }。
blacklist-self = 你不能拉黑自己。
blacklist-service-admin = 不能拉黑服务管理员。
blacklist-already = { $jid } 已在黑名单中。
blacklist-ok = 好的，已拉黑 { $jid }。
pass-not = { $jid } 不在黑名单中。
pass-ok = 好的，{ $jid } 可以重新加入了。
not-a-member = { $jid } 不是成员。
admin-already = { $jid } 已经是管理员。
admin-not = { $jid } 不是管理员。
admin-last-you = 你是最后一位管理员：请先把别人设为管理员。
admin-last = { $jid } 是最后一位管理员：请先把别人设为管理员。
admin-granted = 你现在是 { $title } 的管理员了。发送 //help 可查看管理命令。
admin-revoked = 你不再是 { $title } 的管理员。
mute-already = { $fid } 已经被禁言。
mute-not = { $fid } 没有被禁言。
muted-you = 你已被管理员禁言：在管理员发送 //unmute 之前，你发的消息不会被转发。
unmuted-you = 管理员已解除你的禁言，你发的消息会重新被转发。
token-made =
    好的，已为运维 API 生成令牌 { $id }（{ $scope }）：
    { $token }
    令牌只显示这一次。注意：这条回复可能会保存在你服务器的消息存档中；在服务器上用 `talkgroups token add` 生成的令牌则不会。
token-line = { $id } 生成于 { $made }
token-line-label = { $id } 生成于 { $made }：{ $label }
token-none = 本群还没有 API 令牌。发送 //token new 生成一个。
token-list = 本群的 API 令牌：
token-unknown = 本群没有令牌 { $id }。发送 //token list 查看。
token-revoked = 好的，令牌 { $id } 已撤销。

## 服务域名

service-group-command = //{ $cmd } 要在群里使用：请发到群的地址（发送 //groups 可查看所有群）。
service-refused = 已拒绝：//{ $cmd } 只有服务管理员可以使用。
service-help = 这里可以找到 { $domain } 上的群：发送 //groups 查看列表。要加入某个群，把它的地址加为联系人；在群里发送 //help 查看命令。只有服务管理员可以创建和删除群。
groups-none = 还没有群。
groups-line = { $jid } — { $title }（{ $join }，{ $members } 位成员，{ $online } 人在线，{ $pending } 人待审核）
groups-mine = 你加入的群：
groups-waiting = 等待管理员审核：
groups-joinable = 可以加入的群（把它加为联系人即可）：
groups-joinable-line = { $jid } — { $title }（{ $join }，{ $members } 位成员）
groups-none-open = 这里没有其他可以加入的群。
join-open = 公开
join-approve = 需审核
join-invite = 仅限邀请
newgroup-exists = 群 { $name } 已存在。
newgroup-ok = 好的，已创建 { $jid }（{ $join }）。把它加为联系人即可加入。
delgroup-none = 没有名为 { $name } 的群。
delgroup-ok = 好的，已删除 { $jid }。
delgroup-notice = { $title } 已被服务管理员删除。

## 路由

route-signed = talkgroups 格式的路由需要签名：请设置至少 8 个字符的密码。
route-short-password = 密码至少要有 8 个字符。
route-bad-url = 不是有效的 http:// 或 https:// 地址：{ $url }
route-password-unused = ；该格式不使用密码
route-send-ok = 好的，路由 { $name } 会把群里的每条消息发送到 { $url }（{ $format }）{ $note }。
route-noloop = 通过该路由收到的消息不会再经路由 { $route } 发出。
route-recv-ok = 好的，路由 { $name } 通过 POST /routes/{ $group }/{ $name } 接收消息。{ $noloop }
route-bad-name = 路由名称须为 1–64 个 a-z 0-9 . _ - 字符（以字母或数字开头）：{ $name }
route-exists = 已有名为 { $name } 的路由或桥接：请先删除它。
route-none = 没有名为 { $name } 的路由。发送 //routes 查看列表。
route-is-bridge = { $name } 是桥接，请用 //delbridge { $name } 删除。
route-is-muc = { $name } 是房间桥接，请用 //delmuc { $name } 删除。
kind-route = 路由
kind-bridge = 桥接
kind-muc = 房间桥接
route-deleted = 好的，已删除{ $what } { $name }。
route-deleted-dropped = 好的，已删除{ $what } { $name }，并丢弃了 { $n } 条未送达的消息。
routes-none = 还没有路由。用 //addroutesend 和 //addrouterecv 创建。
never = 无
routes-header = { $title } 的路由：
routes-send = 发送 { $name } → { $url }（{ $format }）— 上次成功：{ $ok }，上次出错：{ $error }，排队 { $queued } 条
routes-noloop = ，不会再发回 { $route }
routes-recv = 接收 { $name } ← POST /routes/{ $group }/{ $name }{ $noloop } — 上次收到：{ $last }

## 桥接

bridge-refused = 未添加：{ $why }。
bridge-send-only = 该桥接只发送、不接收消息（这里不支持 Google Chat 的机器人回调）。
bridge-callback = 请在平台上把回调地址设为 https://YOUR-HTTP-LISTENER/bridges/{ $group }/{ $name }。
bridge-ok = 好的，已添加桥接 { $name }（{ $platform }）。{ $inbound }注意：这条命令连同其中的密钥可能会保存在你服务器的消息存档中；改用配置文件中的 [[bridge]] 表（配合 *_file 或 *_env 键）可以避免这一点。
bridge-is-route = { $name } 是路由，请用 //delroute { $name } 删除。
bridge-none = 没有名为 { $name } 的桥接。发送 //bridges 查看列表。
bridge-from-config = 桥接 { $name } 来自配置文件：请在配置文件中删除它的 [[bridge]] 表并重启。
bridges-line = { $name }（{ $platform }{ $config }）— 上次收到：{ $inbound }，上次发送成功：{ $ok }，上次出错：{ $error }，排队 { $queued } 条；参数：{ $keys }
bridges-from-config = ，来自配置文件
bridges-none = 还没有桥接。用 //addbridge 创建。
bridges-header = { $title } 的桥接：

## 房间桥接

muc-bad-name = 未添加：房间桥接名称须为 1–32 个 a-z、0-9、_ 和 - 字符，以字母或数字开头。
muc-already = 本群已经与 { $room } 桥接（{ $name }）。
muc-bad-nick = 未添加：{ $nick } 不能用作房间昵称。
muc-ok = 好的，已添加房间桥接 { $name }：正在以昵称 { $nick } 加入 { $room }。发送 //mucs 查看进展。
muc-password-note = 注意：这条命令连同房间密码可能会保存在你服务器的消息存档中；改用配置文件中的 [[muc]] 表（配合 password_file 或 password_env）可以避免这一点。
muc-none = 没有名为 { $name } 的房间桥接。发送 //mucs 查看列表。
muc-from-config = 房间桥接 { $name } 来自配置文件：请在配置文件中删除它的 [[muc]] 表并重启。
muc-state-joined = 已加入
muc-state-joining = 正在加入
muc-state-error = 出错
muc-joined-as = 已加入，昵称 { $nick }
mucs-puppets = ，成员各自发言
mucs-line = { $name }（{ $room }{ $flags }）：{ $state }；已向房间发送 { $sent } 条，从房间转发 { $received } 条
mucs-none = 还没有房间桥接。用 //addmuc 创建。
mucs-header = { $title } 的房间桥接：

## 参数不对

setid-refused = ID 不可用：请用 1–32 个 A-Z a-z 0-9 _ . - 字符
newgroup-bad-name = 群名不可用：请用小写 [a-z0-9][a-z0-9._-]，最多 64 个字符。
bridge-unknown-platform = 不支持平台 { $platform }：请用 { $all } 之一。
bridge-key-value = 参数要写成 key=value 的形式，{ $key } 不符合。
bridge-key-twice = 参数 { $key } 重复了。
route-unknown-format = 不支持格式 { $format }：请用 { $all } 之一。
route-not-a-name = { $name } 不是路由名称。
token-label-long = 标签最多 100 个字符。
muc-not-understood = 无法识别 { $word }：请给出 NICK、nick=NICK、password=PW 或 puppets。

## 群的在线状态

status-line = { $title } — { $online }/{ $members } 人在线

## 房间桥接：为什么没有加入房间（//mucs、发给管理员的通知）

muc-state-why = { $state }：{ $why }
muc-reason-said = { $what }：{ $said }
muc-notice-retry = 房间桥接 { $name }：{ $why }。{ $secs } 秒后重试。
muc-notice-failed = 房间桥接 { $name }：{ $why }。不再重试：请先排除问题，然后用 //delmuc { $name } 删除并重新 //addmuc。
muc-pm-answer = 这是一个桥接到群的账号：它只转发房间里的发言，不读私信。
muc-why-password = 房间密码错误或未填写
muc-why-members-only = 这个房间只允许成员进入
muc-why-banned = 已被房间封禁
muc-why-no-room = 房间不存在，且不允许新建
muc-why-not-created = 不允许新建这个房间
muc-why-full = 房间已满或暂时不可用
muc-why-unreachable = 连不上房间所在的服务器（{ $condition }）
muc-why-refused-as = 房间拒绝加入（{ $condition }）
muc-why-refused = 房间拒绝加入
muc-why-destroyed = 房间已被解散
muc-why-kicked = 被踢出了房间
muc-why-affiliation = 已被移出房间（身份有变）
muc-why-now-members-only = 已被移出：房间改成了仅限成员
muc-why-shutdown = 房间服务正在关闭
muc-why-left = 已离开房间
muc-why-gone = 已经不在房间里了
muc-why-nicks-taken = 试过的昵称在房间里都被占用了
muc-why-unknown-occupant = 连接中断：房间已不再识别这个身份
muc-why-no-answer = 房间没有回应加入请求
muc-why-ping = 连接中断：自检 ping 没有回应
room-has-resource = { $room } 带了资源名：请填房间的纯 JID（room@service）
room-not-a-room = { $room } 不是房间的 JID（room@service）
room-own-group = { $room } 是本服务自己的群，不是房间

## 桥接参数不对（//addbridge；配置文件里的同类错误用这些消息的英文版）

bridge-bad-name = 桥接名须为 1–32 个 a-z、0-9、_、- 字符，并以字母或数字开头：{ $name }
bridge-key-unknown = { $platform } 不支持参数 { $key }
bridge-key-empty = 参数 { $key } 的值为空
bridge-key-missing = 缺少参数 { $key }
bridge-key-url = { $key } 必须是带主机名的完整 http(s) 网址
bridge-key-rate = rate 的格式是“条数/时长”，例如 20/60s、5/1s 或 20/min（收到的是“{ $got }”）
bridge-slack-webhook = 缺少参数 webhook（或同时提供 bot_token 和 channel）
bridge-wecom-key-length = encoding_aes_key 应为 43 个字符（现在是 { $n } 个）
bridge-wecom-key-base64 = encoding_aes_key 按 Base64 解码后不是 32 字节
bridge-telegram-secret = secret_token 须为 1–256 个 A-Z、a-z、0-9、_ 或 - 字符
bridge-telegram-chat = chat_id 须为数字形式的会话 ID，例如 -1001234567890（收到的是“{ $got }”）

## 节错误（<error/> 里的文字，由客户端显示）

err-unsaved = talkgroups 无法保存，本次操作未执行。请稍后再试。
err-not-a-room = 这是联系人，不是聊天室：请发送普通聊天消息。
err-message-type = 未知的消息类型。
err-no-group = 没有这个群。
err-iq-type = iq 的类型必须是 get 或 set。
err-iq-payload = iq 必须恰好带一个子元素。
err-no-node = 没有这个节点。
err-presence-type = 未知的出席类型。

## 资料（vCard）和提醒

vcard-group = 群聊（加入方式：{ $join }）：把 { $gjid } 加为联系人即可加入。
vcard-service = 基于联系人列表的群聊服务。给这里发条消息就能看到有哪些群。
pending-reminder = 有 { $n } 人等待加入 { $title }：{ $jids }。发送 //add JID 或 //allok 批准

## Ad-hoc 命令（Gajim、Conversations、Cheogram、Psi 中的表单）

adhoc-approve = 审核入群申请
adhoc-approve-intro = 请选择要批准的申请。
adhoc-remove = 移出成员
adhoc-remove-intro = 把成员移出本群；如果同时拉黑，对方就不能再回来。
adhoc-mute = 禁言或解除禁言
adhoc-mute-intro = 被禁言成员的消息不会转发给其他人。
adhoc-edit = 修改群信息
adhoc-edit-intro = 群名称和加入方式。
adhoc-announce = 发布公告
adhoc-announce-intro = 以群的名义发给每一位成员。
adhoc-settings = 我的设置
adhoc-settings-intro = 你在本群的昵称、暂停接收的秒数（填 0 结束暂停），以及回复你时用的语言。
adhoc-create = 新建群
adhoc-create-intro = 新群的地址为“地址名@本服务”。
adhoc-delete = 删除群
adhoc-delete-intro = 会通知所有成员，然后删除该群及其全部数据。
adhoc-field-pending = 待审核的申请
adhoc-field-member = 成员
adhoc-field-how = 方式
adhoc-how-kick = 移出
adhoc-how-blacklist = 移出并拉黑
adhoc-field-muted = 禁言
adhoc-field-title = 名称
adhoc-field-join = 加入方式
adhoc-field-announcement = 公告内容
adhoc-field-nick = 昵称
adhoc-field-pause = 暂停（秒）
adhoc-field-lang = 语言
adhoc-lang-auto = 跟随客户端
adhoc-field-name = 地址名
adhoc-field-group = 群
adhoc-no-command = 没有这个命令。
adhoc-not-here = 这里不提供这个命令。
adhoc-members-only = 这个命令只有本群成员能用。
adhoc-admins-only = 这个命令只有本群管理员能用。
adhoc-service-admins-only = 这个命令只有服务管理员能用。
adhoc-done = 已完成。
adhoc-choose-request = 请至少选择一个申请。
adhoc-choose-member = 请选择一位成员。
adhoc-choose-group = 请选择一个群。
adhoc-not-member = 对方不是本群成员。
adhoc-bad-title = 群名称最多 100 个可显示字符。
adhoc-bad-join = 加入方式只能是 open、approve 或 invite。
adhoc-edited = 群信息已修改。
adhoc-empty-announcement = 公告内容为空。
adhoc-long-announcement = 公告最多 { $max } 个字符。
adhoc-announced = 已发给全体成员。
adhoc-bad-pause = 暂停时间请填秒数。
adhoc-bad-lang = 语言只能是 auto、en 或 zh。
adhoc-unchanged = 没有任何改动。

## 网页管理后台（/admin/）的标签；{ $name } 表示由页面填入的内容

web-page-title = talkgroups 管理
web-skip = 跳到正文
web-language = 语言
web-sign-out = 退出登录
web-sign-in-title = 登录
web-token-label = API 令牌
web-sign-in = 登录
web-token-hint = 用“talkgroups token add”生成令牌；群管理员也可以在群里发送“//token new”。
web-bad-token = 令牌无效，请检查后重试。
web-no-token = 请先输入令牌。
web-out-of-scope = 这个令牌无权管理该群。
web-groups = 群列表
web-group = 群
web-title = 名称
web-join-policy = 加入方式
web-members = 成员
web-online = 在线
web-pending = 待审核
web-no-groups = 还没有群。
web-all-groups = ← 所有群
web-announce = 公告
web-announce-label = 以群的名义发给所有成员
web-send = 发送
web-sent = 公告已发出。
web-messages = 最新消息
web-live = 实时更新中。
web-reconnecting = 连接中断，正在重连……
web-pending-requests = 入群申请
web-no-pending = 暂无申请。
web-approve = 批准
web-member = 成员
web-nick = 昵称
web-admin = 管理员
web-muted = 已禁言
web-actions = 操作
web-mute = 禁言
web-unmute = 解除禁言
web-kick = 移出
web-confirm-kick = 确定把 { $jid } 移出本群吗？
web-blacklist = 黑名单
web-blacklist-add = 加入黑名单的地址
web-add = 添加
web-remove = 移除
web-no-blacklist = 黑名单是空的。
web-links = 路由、桥接和房间
web-name = 名称
web-kind = 类型
web-target = 目标
web-status = 状态
web-no-links = 暂无。
web-k-send = 发送路由
web-k-receive = 接收路由
web-k-bridge = 桥接
web-k-muc = 房间
web-yes = 是
web-no = 否
web-never = 从未
web-queued = 排队 { $n } 条
web-last-ok = { $at } 送达
web-last-error = { $at } 失败：{ $error }
web-last-received = 最近收到于 { $at }
web-room-state = { $state }
web-meta = { $jid } · 加入方式：{ $join } · 成员 { $members } 人，在线 { $online } 人
web-j-open = 公开
web-j-approve = 需审核
web-j-invite = 仅限邀请
web-notice-from-group = （群通知）
web-failed = 操作失败：{ $message }
web-offline = 无法连接到服务。
web-loading = 加载中……
web-message-removed = 消息已删除
