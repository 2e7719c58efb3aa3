// The Pusher protocol as part of the chat application (docs/chat-protocol.md §8): one
// set of rooms. A channel is the room of the same name on the conversations namespace;
// presence channels share presence.cpp's member lists with Socket.IO presence rooms; a
// user known to a Pusher connection (signin, presence channel_data) counts for online
// status like a socket.
#include "apps/chat-server/chat_internal.hpp"

namespace chat {

namespace {

std::vector<sio::pusher_member> presence_join(chat_app& app, const std::string& nsp, const std::string& channel,
                                              const sio::pusher_member& member, const std::string& sub_id) {
  auto entry = presence_add(app, channel, member.user_id, member.user_info);
  if (entry.first)
    app.io.in(nsp).to(channel).except(sub_id).emit("user.joined", {entry.member});
  std::vector<sio::pusher_member> out;
  out.reserve(entry.members.size());
  for (auto& m : entry.members) {
    auto& o = m.as_object();
    out.push_back({std::string(o.at("user_id").as_string()), o.at("user_info")});
  }
  return out;
}

void presence_leave(chat_app& app, const std::string& nsp, const std::string& channel,
                    const sio::pusher_member& member) {
  if (auto gone = presence_remove(app, channel, member.user_id))
    app.io.in(nsp).to(channel).emit("user.left", {*gone});
}

} // namespace

void mount_pusher(chat_app& app) {
  if (app.opts.pusher_apps.empty())
    return;
  sio::pusher_hooks hooks;
  hooks.presence_join = [&app](const std::string& nsp, const std::string& channel, const sio::pusher_member& member,
                               const std::string& sub_id) { return presence_join(app, nsp, channel, member, sub_id); };
  hooks.presence_leave = [&app](const std::string& nsp, const std::string& channel, const sio::pusher_member& member,
                                const std::string&) { presence_leave(app, nsp, channel, member); };
  hooks.member_added_event = "user.joined";
  hooks.member_removed_event = "user.left";
  hooks.user_arrived = [&app](const std::string& nsp, const std::string& user) {
    if (nsp == app.opts.conversations_namespace)
      user_online(app, user);
  };
  hooks.user_departed = [&app](const std::string& nsp, const std::string& user) {
    if (nsp == app.opts.conversations_namespace)
      user_offline(app, user);
  };
  app.pusher = std::make_unique<sio::pusher_server>(app.io, app.sys, pusher::app_registry(app.opts.pusher_apps),
                                                    app.opts.conversations_namespace, std::move(hooks));
  mount_pusher_http_api(app, *app.pusher);
}

} // namespace chat
