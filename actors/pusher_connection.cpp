#include "actors/pusher_connection.hpp"

#include "actors/api.hpp"
#include "actors/ids.hpp"
#include "transport/engineio/packet.hpp"
#include "transport/pusher/message.hpp"
#include "transport/pusher/signature.hpp"
#include "transport/socketio/packet.hpp"

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

namespace sio {

namespace {

namespace json = boost::json;
using self_ptr = caf::stateful_actor<pusher_connection_state>*;
using clock = std::chrono::steady_clock;

/// Pusher's limits: client events per second per connection, a client event's data.
constexpr int client_events_per_second = 10;
constexpr std::size_t max_client_event_bytes = 10240;
/// Time to answer the server's pusher:ping before the connection is closed (4201): 30 s,
/// or the app's activity timeout when shorter.
std::chrono::seconds pong_timeout(const pusher::app& a) {
  return std::min<std::chrono::seconds>(std::chrono::seconds(30), a.activity_timeout);
}
/// Longest user id in channel_data or user_data (Pusher's limit).
constexpr std::size_t max_user_id = 128;

void send(self_ptr self, std::string text) {
  auto& st = self->state;
  if (!st.ws || st.ended)
    return;
  if (st.ws->send(http::ws_message{false, std::make_shared<const std::string>(std::move(text))})
      == http::ws_channel::send_result::over_cap)
    st.ws->abort(); // a client that does not read: its ws_gone ends the actor
}

void send_error(self_ptr self, std::optional<int> code, std::string_view message) {
  send(self, pusher::encode_error(code, message));
}

/// A user this connection acts for (signed in, or a presence member): counted once per
/// connection for online status and found by terminate_connections.
void note_user(self_ptr self, const std::string& user) {
  auto& st = self->state;
  if (++st.present_users[user] > 1)
    return;
  {
    std::lock_guard<std::mutex> guard(st.shared->users_mutex);
    st.shared->users.emplace(pusher_shared::user_key(st.app->id, user), self);
  }
  if (st.shared->hooks.user_arrived)
    run_guarded("pusher user_arrived", [&] { st.shared->hooks.user_arrived(st.nsp_name, user); });
}

void forget_user(self_ptr self, const std::string& user) {
  auto& st = self->state;
  auto it = st.present_users.find(user);
  if (it == st.present_users.end() || --it->second > 0)
    return;
  st.present_users.erase(it);
  {
    std::lock_guard<std::mutex> guard(st.shared->users_mutex);
    auto range = st.shared->users.equal_range(pusher_shared::user_key(st.app->id, user));
    for (auto u = range.first; u != range.second; ++u)
      if (u->second == self) {
        st.shared->users.erase(u);
        break;
      }
  }
  if (st.shared->hooks.user_departed)
    run_guarded("pusher user_departed", [&] { st.shared->hooks.user_departed(st.nsp_name, user); });
}

void drop_subscription(self_ptr self, std::map<std::string, pusher_connection_state::subscription>::iterator it) {
  auto& st = self->state;
  self->send(st.nsp, socket_remove{it->second.key});
  st.channel_of.erase(it->second.key);
  if (it->second.member) {
    auto& hooks = st.shared->hooks;
    if (hooks.presence_leave)
      run_guarded("pusher presence_leave",
                  [&] { hooks.presence_leave(st.nsp_name, it->first, *it->second.member, st.socket_id); });
    forget_user(self, it->second.member->user_id);
  }
  st.subs.erase(it);
}

/// Everything the connection holds, given back once.
void end(self_ptr self) {
  auto& st = self->state;
  if (st.ended)
    return;
  while (!st.subs.empty())
    drop_subscription(self, st.subs.begin());
  if (st.user_id)
    forget_user(self, *st.user_id);
  if (st.admitted)
    st.shared->apps.release(*st.app);
  st.shared->core->remove_other(self->address());
  st.ended = true;
  self->quit();
}

void close_with(self_ptr self, int code, const std::string& message) {
  auto& st = self->state;
  send_error(self, code, message);
  if (st.ws)
    st.ws->close(static_cast<std::uint16_t>(code), message);
  end(self);
}

/// Joins the channel's room (and the connection's own room, named by its socket id,
/// which broadcasts use to leave this connection out).
std::uint64_t join_room(self_ptr self, const std::string& channel) {
  auto& st = self->state;
  auto key = next_key();
  self->send(st.nsp, socket_add{key, st.socket_id, self, nullptr, true});
  self->send(st.nsp, room_join{key, channel});
  st.channel_of[key] = channel;
  return key;
}

std::optional<pusher_member> member_of(const json::value& channel_data) {
  auto* o = channel_data.if_object();
  if (!o)
    return std::nullopt;
  auto* id = o->if_contains("user_id");
  pusher_member m;
  if (id && id->is_string())
    m.user_id = std::string(id->as_string());
  else if (id && (id->is_int64() || id->is_uint64()))
    m.user_id = json::serialize(*id);
  if (m.user_id.empty() || m.user_id.size() > max_user_id)
    return std::nullopt;
  if (auto* info = o->if_contains("user_info"))
    m.user_info = *info;
  return m;
}

json::value presence_data(const std::vector<pusher_member>& members) {
  json::array ids;
  json::object hash;
  for (auto& m : members) {
    if (hash.contains(m.user_id))
      continue;
    ids.emplace_back(m.user_id);
    hash[m.user_id] = m.user_info;
  }
  auto count = ids.size();
  return json::object{{"presence", json::object{{"ids", std::move(ids)}, {"hash", std::move(hash)}, {"count", count}}}};
}

std::optional<std::string> text_field(const json::value& data, std::string_view name) {
  auto* o = data.if_object();
  if (!o)
    return std::nullopt;
  auto* v = o->if_contains(name);
  if (!v || !v->is_string())
    return std::nullopt;
  return std::string(v->as_string());
}

void subscribe(self_ptr self, const json::value& data) {
  auto& st = self->state;
  auto channel = text_field(data, "channel");
  if (!channel)
    return send_error(self, pusher::code::generic_reconnect, "Invalid message format: channel is required");
  auto refuse = [&](std::string_view type, std::string_view error, int status) {
    send(self, pusher::encode_subscription_error(*channel, type, error, status));
  };
  // An invalid name is not echoed back as a channel: no client could hold it.
  if (!pusher::valid_channel_name(*channel))
    return send_error(self, std::nullopt, "Invalid channel name: 1 to 164 of A-Z a-z 0-9 - _ = @ , . ;");
  auto kind = pusher::kind_of(*channel);
  // pusher-js subscribes to its own #server-to-user- channel after signin (it is already
  // in: answered below); anyone else's is refused.
  if (kind == pusher::channel_kind::server_to_user && !st.subs.count(*channel))
    return refuse("AuthError", "Server-to-user channels are joined by pusher:signin", 403);
  if (auto it = st.subs.find(*channel); it != st.subs.end()) {
    // Subscribing again answers again (Reverb does the same); nothing is added twice.
    json::value again = json::object{};
    if (it->second.member)
      return refuse("AlreadySubscribed", "Already subscribed", 400);
    return send(self, pusher::encode_subscription_succeeded(*channel, again));
  }
  if (st.subs.size() + 1 >= st.shared->core->opts.max_rooms_per_socket)
    return refuse("LimitReached", "Too many channels", 400);
  std::optional<pusher_member> member;
  if (kind != pusher::channel_kind::public_) {
    auto auth = text_field(data, "auth");
    if (!auth)
      return refuse("AuthError", "Subscription requires auth", 401);
    std::optional<std::string> channel_data;
    if (kind == pusher::channel_kind::presence) {
      auto* o = data.if_object();
      auto* cd = o ? o->if_contains("channel_data") : nullptr;
      if (!cd || !cd->is_string())
        return refuse("AuthError", "Presence channels require channel_data", 400);
      channel_data = std::string(cd->as_string());
    }
    if (!pusher::channel_auth_valid(*st.app, *auth, st.socket_id, *channel,
                                    channel_data ? std::optional<std::string_view>(*channel_data) : std::nullopt))
      return refuse("AuthError", "Invalid signature", 401);
    if (channel_data) {
      auto parsed = socketio::parse_json(*channel_data);
      member = parsed ? member_of(*parsed) : std::nullopt;
      if (!member)
        return refuse("AuthError", "channel_data needs a user_id of 1 to 128 characters", 400);
    }
  }
  auto key = join_room(self, *channel);
  st.subs[*channel] = {key, member};
  if (!member)
    return send(self, pusher::encode_subscription_succeeded(*channel, json::object{}));
  note_user(self, member->user_id);
  // Answered with the members once the application has them (from its presence state),
  // unless the subscription ended meanwhile.
  auto done = [self, channel = *channel, key](std::vector<pusher_member> members) {
    auto& st = self->state;
    auto it = st.subs.find(channel);
    if (st.ended || it == st.subs.end() || it->second.key != key)
      return;
    send(self, pusher::encode_subscription_succeeded(channel, presence_data(members)));
  };
  auto& hooks = st.shared->hooks;
  if (!hooks.presence_join)
    return done({*member});
  run_guarded("pusher presence_join",
              [&] { hooks.presence_join(self, st.nsp_name, *channel, *member, st.socket_id, done); });
}

void unsubscribe(self_ptr self, const json::value& data) {
  auto& st = self->state;
  auto channel = text_field(data, "channel");
  if (!channel)
    return send_error(self, pusher::code::generic_reconnect, "Invalid message format: channel is required");
  if (auto it = st.subs.find(*channel); it != st.subs.end())
    drop_subscription(self, it);
}

void signin(self_ptr self, const json::value& data) {
  auto& st = self->state;
  auto auth = text_field(data, "auth");
  auto user_data = text_field(data, "user_data");
  if (!auth || !user_data || !pusher::user_auth_valid(*st.app, *auth, st.socket_id, *user_data))
    return close_with(self, pusher::code::unauthorized, "Invalid signature");
  auto parsed = socketio::parse_json(*user_data);
  auto id = parsed ? text_field(*parsed, "id") : std::nullopt;
  if (!id || id->empty() || id->size() > max_user_id)
    return close_with(self, pusher::code::unauthorized, "user_data needs an id of 1 to 128 characters");
  if (st.user_id)
    return send_error(self, std::nullopt, "Already signed in");
  st.user_id = *id;
  // Events to "#server-to-user-{id}" reach every connection signed in as that user.
  auto channel = "#server-to-user-" + *id;
  st.subs[channel] = {join_room(self, channel), std::nullopt};
  note_user(self, *id);
  send(self, pusher::encode_signin_success(*user_data));
}

void client_event(self_ptr self, pusher::client_message& m) {
  auto& st = self->state;
  auto refuse = [&](std::string_view why) { send_error(self, std::nullopt, why); };
  if (!m.channel)
    return refuse("Client event rejected - channel is required");
  auto sub = st.subs.find(*m.channel);
  if (sub == st.subs.end())
    return refuse("Client event rejected - not subscribed to the channel");
  auto kind = pusher::kind_of(*m.channel);
  if (kind == pusher::channel_kind::private_encrypted)
    return refuse("Client event rejected - not supported on encrypted channels");
  if (kind != pusher::channel_kind::private_ && kind != pusher::channel_kind::presence)
    return refuse("Client event rejected - only supported on private and presence channels");
  auto now = clock::now();
  if (now - st.window_start >= std::chrono::seconds(1)) {
    st.window_start = now;
    st.window_events = 0;
  }
  if (++st.window_events > client_events_per_second)
    return send_error(self, pusher::code::client_event_rejected, "Client event rejected - rate limit exceeded");
  auto data_text = json::serialize(m.data);
  if (data_text.size() > max_client_event_bytes)
    return refuse("Client event rejected - data over 10 KB");
  std::optional<std::string_view> user;
  if (sub->second.member)
    user = sub->second.member->user_id;
  // One frame for both kinds of members: Socket.IO text, and the Pusher form with the
  // sender's user_id, which the Socket.IO form cannot carry.
  message args;
  args.args.push_back(std::move(m.data));
  auto frame = shared_frame{std::make_shared<const wire_packet>(
      wire_packet{engineio::encode_message(encode_event(st.nsp_name, m.event, args)),
                  {},
                  pusher::encode_event_raw(m.event, *m.channel, data_text, user)})};
  self->send(st.nsp, broadcast_request{{*m.channel}, {st.socket_id}, std::move(frame), false, false, {}});
}

void on_text(self_ptr self, std::string_view text) {
  auto decoded = pusher::decode(text);
  if (auto* bad = std::get_if<pusher::bad_message>(&decoded))
    return send_error(self, pusher::code::generic_reconnect, "Invalid message format: " + bad->reason);
  auto& m = std::get<pusher::client_message>(decoded);
  if (m.event == "pusher:ping")
    return send(self, pusher::encode_pong());
  if (m.event == "pusher:pong")
    return;
  if (m.event == "pusher:subscribe")
    return subscribe(self, m.data);
  if (m.event == "pusher:unsubscribe")
    return unsubscribe(self, m.data);
  if (m.event == "pusher:signin")
    return signin(self, m.data);
  if (m.event.rfind("client-", 0) == 0)
    return client_event(self, m);
  send_error(self, pusher::code::generic_reconnect, "Unsupported event: " + m.event.substr(0, 64));
}

/// A broadcast to one of this connection's channels, as a Pusher event.
void on_deliver(self_ptr self, const deliver& d) {
  auto& st = self->state;
  auto channel = st.channel_of.find(d.key);
  if (channel == st.channel_of.end() || !d.frame)
    return;
  if (!d.frame->pusher.empty())
    return send(self, d.frame->pusher);
  auto e = pusher::from_socketio(d.frame->text, d.frame->ends_with_offset);
  if (!e)
    return; // binary events have no Pusher form
  auto& hooks = st.shared->hooks;
  if (pusher::kind_of(channel->second) == pusher::channel_kind::presence) {
    if (!hooks.member_added_event.empty() && e->event == hooks.member_added_event)
      return send(self, pusher::encode_event("pusher_internal:member_added", channel->second, e->data));
    if (!hooks.member_removed_event.empty() && e->event == hooks.member_removed_event) {
      json::value id = nullptr;
      if (auto* o = e->data.if_object(); o && o->contains("user_id"))
        id = o->at("user_id");
      return send(
          self, pusher::encode_event("pusher_internal:member_removed", channel->second, json::object{{"user_id", id}}));
    }
  }
  send(self, pusher::encode_event(e->event, channel->second, e->data));
}

/// The activity check: a ping after `activity_timeout` of silence, a close when its pong
/// does not come within `pong_timeout`.
void on_activity_check(self_ptr self) {
  auto& st = self->state;
  auto now = clock::now();
  auto wait = pong_timeout(*st.app);
  if (st.ping_sent) {
    if (now - *st.ping_sent >= wait)
      return close_with(self, pusher::code::pong_not_received, "Pong reply not received");
    self->delayed_send(self, wait - (now - *st.ping_sent), activity_atom::value);
    return;
  }
  auto idle = now - st.last_activity;
  if (idle >= st.app->activity_timeout) {
    send(self, pusher::encode_ping());
    st.ping_sent = now;
    self->delayed_send(self, wait, activity_atom::value);
    return;
  }
  self->delayed_send(self, st.app->activity_timeout - idle, activity_atom::value);
}

} // namespace

caf::behavior pusher_connection(caf::stateful_actor<pusher_connection_state>* self,
                                std::shared_ptr<pusher_shared> shared, const pusher::app* app, std::uint64_t channel,
                                http::ws_channel_ptr ws, std::optional<pusher_refusal> refusal) {
  auto& st = self->state;
  st.shared = std::move(shared);
  st.app = app;
  st.channel = channel;
  st.ws = std::move(ws);
  st.shared->core->add_other(self);
  if (!refusal && app && !st.shared->apps.try_admit(*app))
    refusal = pusher_refusal{pusher::code::over_capacity, "Over capacity"};
  if (refusal) {
    close_with(self, refusal->code, refusal->message);
    return {};
  }
  st.admitted = true;
  st.nsp_name = st.shared->nsp_of(*app);
  st.nsp = st.shared->nsp_actors.at(st.nsp_name);
  st.socket_id = std::to_string(node_id()) + "." + std::to_string(next_key());
  st.last_activity = st.window_start = clock::now();
  send(self, pusher::encode_connection_established(st.socket_id, app->activity_timeout.count()));
  self->delayed_send(self, app->activity_timeout, activity_atom::value);
  return {
      [=](ws_in& in) {
        auto& st = self->state;
        if (in.channel != st.channel || st.ended)
          return;
        st.last_activity = clock::now();
        st.ping_sent.reset();
        auto bytes = in.data.size();
        if (in.binary)
          send_error(self, pusher::code::generic_reconnect, "Invalid message format: binary frames are not used");
        else
          on_text(self, in.data);
        if (st.ws)
          st.ws->consumed(bytes);
      },
      [=](ws_gone& gone) {
        if (gone.channel == self->state.channel)
          end(self);
      },
      [=](deliver& d) { on_deliver(self, d); },
      [=](close_request& r) {
        // Shutting down asks clients to come back (42xx); a terminated user may not (4009).
        if (r.reason == "server shutting down")
          close_with(self, pusher::code::generic_reconnect, "Server shutting down");
        else
          close_with(self, pusher::code::unauthorized, r.reason);
      },
      [=](activity_atom) {
        if (!self->state.ended)
          on_activity_check(self);
      },
  };
}

} // namespace sio
