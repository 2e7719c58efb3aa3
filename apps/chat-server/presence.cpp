// Presence rooms (docs/chat-protocol.md §5, §8; seeds 001, 004): one member list per
// room, whichever protocol its members came by. A Socket.IO socket enters with joinRoom
// (enter_room below), a Pusher connection by subscribing to the presence channel of the
// same name (pusher_bridge.cpp); both count in the presence actor (presence_actor.hpp),
// so a user with several sockets or connections, on any node, is one member, announced
// once to each socket.
#include "apps/chat-server/chat_internal.hpp"

#include "transport/socketio/packet.hpp"

namespace chat {

bool is_presence_room(const std::string& room) {
  return room.rfind("presence-", 0) == 0 || room.rfind("presence.", 0) == 0;
}

json::object member_json(const presence_member& m) {
  auto info = sio::socketio::parse_json(m.info);
  return json::object{{"user_id", m.user},
                      {"user_info", info ? std::move(*info) : json::value(nullptr)},
                      {"connected_at", m.connected_at}};
}

json::array members_json(const presence_list& list) {
  json::array out;
  out.reserve(list.members.size());
  for (auto& m : list.members)
    out.push_back(member_json(m));
  return out;
}

void enter_room(chat_app& app, sio::socket& s, const std::string& room, const sio::ack_responder& ack) {
  auto joined = s.join(room);
  if (joined == sio::socket::join_result::not_connected)
    return;
  if (joined == sio::socket::join_result::limit_reached) {
    if (ack.wanted())
      ack({error_status("Too many rooms")});
    else
      s.emit("error", {json::object{{"message", "Too many rooms: " + room}}});
    return;
  }
  bool already = joined == sio::socket::join_result::already_in;
  if (!is_presence_room(room)) {
    ack({ok_status({{"room", room}})});
    return;
  }
  auto failed = [ack](sio::socket& s, const caf::error& err) { refuse(s, ack, describe(err)); };
  if (already) {
    s.request<presence_list>(
        app.presence, presence_query{room},
        [ack](sio::socket&, presence_list& list) {
          ack({ok_status({{"room", list.room}, {"members", members_json(list)}})});
        },
        failed);
    return;
  }
  // The presence actor counts the socket and tells the room (user.joined) when it is the
  // user's first; the answer is the room afterwards.
  auto user = user_id_of(s).value_or(s.id());
  auto info = json::serialize(json::object{{"name", user_name_of(s)}});
  s.request<presence_list>(
      app.presence, presence_enter{s.nsp(), room, user, std::move(info), s.id()},
      [ack](sio::socket& s, presence_list& list) {
        auto members = members_json(list);
        s.emit("presence.members", {json::object{{"room", list.room}, {"members", members}}});
        ack({ok_status({{"room", list.room}, {"members", std::move(members)}})});
      },
      failed);
}

void presence_leave(chat_app& app, sio::socket& s, const std::string& room) {
  if (is_presence_room(room))
    caf::anon_send(app.presence, presence_exit{s.nsp(), room, user_id_of(s).value_or(s.id())});
}

void leave_room(chat_app& app, sio::socket& s, const std::string& room, const sio::ack_responder& ack) {
  bool was_in = s.in_room(room);
  s.leave(room);
  if (!was_in || !is_presence_room(room))
    return ack({ok_status({{"room", room}})});
  // Answered once the presence actor counted it: the room heard user.left first.
  s.request<caf::ok_atom>(
      app.presence, presence_exit{s.nsp(), room, user_id_of(s).value_or(s.id())},
      [ack, room](sio::socket&, caf::ok_atom) {
        ack({ok_status({{"room", room}})});
      },
      [ack](sio::socket& s, const caf::error& err) { refuse(s, ack, describe(err)); });
}

} // namespace chat
