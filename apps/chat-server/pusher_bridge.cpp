// The Pusher protocol as part of the chat application (docs/chat-protocol.md §8): one
// set of rooms. A channel is the room of the same name on the conversations namespace;
// presence channels share presence.cpp's member lists with Socket.IO presence rooms; a
// user known to a Pusher connection (signin, presence channel_data) counts for online
// status like a socket.
#include "apps/chat-server/chat_internal.hpp"

#include "transport/socketio/packet.hpp"

namespace chat {

namespace {

// The presence actor counts the subscription (and tells the room, user.joined, when it is
// the user's first); the subscription is answered with the channel's members afterwards.
void presence_join(chat_app& app, caf::event_based_actor* self, const std::string& nsp, const std::string& channel,
                   const sio::pusher_member& member, const std::string& sub_id, sio::pusher_hooks::members_fn done) {
  self->request(app.presence, caf::infinite,
                presence_enter{nsp, channel, member.user_id, json::serialize(member.user_info), sub_id})
      .then(
          [done](presence_list& list) {
            std::vector<sio::pusher_member> out;
            out.reserve(list.members.size());
            for (auto& m : list.members) {
              auto info = sio::socketio::parse_json(m.info);
              out.push_back({m.user, info ? std::move(*info) : json::value(nullptr)});
            }
            done(std::move(out));
          },
          [done, member](caf::error&) { done({member}); });
}

void presence_leave(chat_app& app, const std::string& nsp, const std::string& channel,
                    const sio::pusher_member& member) {
  caf::anon_send(app.presence, presence_exit{nsp, channel, member.user_id});
}

} // namespace

void mount_pusher(chat_app& app) {
  if (app.opts.pusher_apps.empty())
    return;
  sio::pusher_hooks hooks;
  hooks.presence_join = [&app](caf::event_based_actor* self, const std::string& nsp, const std::string& channel,
                               const sio::pusher_member& member, const std::string& sub_id,
                               sio::pusher_hooks::members_fn done) {
    presence_join(app, self, nsp, channel, member, sub_id, std::move(done));
  };
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
