#include "transport/pusher/message.hpp"

#include "transport/engineio/packet.hpp"
#include "transport/socketio/packet.hpp"

#include <boost/json.hpp>

namespace pusher {

namespace json = boost::json;

std::variant<client_message, bad_message> decode(std::string_view text) {
  // The Socket.IO codec's parser: bounded nesting, no infinities, valid UTF-8 only.
  auto v = sio::socketio::parse_json(text);
  if (!v || !v->is_object())
    return bad_message{"not a JSON object"};
  auto& o = v->as_object();
  auto* event = o.if_contains("event");
  if (!event || !event->is_string() || event->as_string().empty())
    return bad_message{"event is required"};
  client_message m;
  m.event = std::string(event->as_string());
  if (auto* channel = o.if_contains("channel"); channel && !channel->is_null()) {
    if (!channel->is_string())
      return bad_message{"channel must be a string"};
    m.channel = std::string(channel->as_string());
  }
  if (auto* data = o.if_contains("data")) {
    if (data->is_string()) {
      auto inner = sio::socketio::parse_json(data->as_string());
      m.data = inner ? std::move(*inner) : std::move(*data);
    } else {
      m.data = std::move(*data);
    }
  }
  return m;
}

namespace {

std::string encode_object(std::string_view event, std::optional<std::string_view> channel, json::value data,
                          std::optional<std::string_view> user_id) {
  json::object o;
  o.reserve(4);
  o["event"] = event;
  if (channel)
    o["channel"] = *channel;
  o["data"] = std::move(data);
  if (user_id)
    o["user_id"] = *user_id;
  return json::serialize(o);
}

} // namespace

std::string encode_event_raw(std::string_view event, std::optional<std::string_view> channel,
                             std::string_view data_text, std::optional<std::string_view> user_id) {
  return encode_object(event, channel, json::string(data_text), user_id);
}

std::string encode_event(std::string_view event, std::optional<std::string_view> channel, const json::value& data,
                         std::optional<std::string_view> user_id) {
  return encode_event_raw(event, channel, json::serialize(data), user_id);
}

std::string encode_connection_established(std::string_view socket_id, std::int64_t activity_timeout_s) {
  return encode_event("pusher:connection_established", std::nullopt,
                      json::object{{"socket_id", socket_id}, {"activity_timeout", activity_timeout_s}});
}

std::string encode_error(std::optional<int> code, std::string_view message) {
  json::value c = nullptr;
  if (code)
    c = *code;
  return encode_object("pusher:error", std::nullopt, json::object{{"code", c}, {"message", message}}, std::nullopt);
}

std::string encode_ping() {
  return encode_event("pusher:ping", std::nullopt, json::object{});
}

std::string encode_pong() {
  return encode_event("pusher:pong", std::nullopt, json::object{});
}

std::string encode_subscription_succeeded(std::string_view channel, const json::value& data) {
  return encode_event("pusher_internal:subscription_succeeded", channel, data);
}

std::string encode_subscription_error(std::string_view channel, std::string_view type, std::string_view error,
                                      int status) {
  return encode_event("pusher:subscription_error", channel,
                      json::object{{"type", type}, {"error", error}, {"status", status}});
}

std::string encode_signin_success(std::string_view user_data) {
  return encode_event("pusher:signin_success", std::nullopt, json::object{{"user_data", user_data}});
}

std::optional<room_event> from_socketio(std::string_view eio_message, bool ends_with_offset) {
  auto eio = sio::engineio::decode_frame(false, eio_message);
  if (!eio || eio->type != sio::engineio::packet_type::message)
    return std::nullopt;
  sio::socketio::decoder d(0);
  auto r = d.feed_text(eio->data);
  auto* p = std::get_if<sio::socketio::packet>(&r);
  if (!p || p->type != sio::socketio::packet_type::event || !p->data.is_array())
    return std::nullopt;
  auto& args = p->data.as_array();
  if (ends_with_offset && args.size() > 1) // connection state recovery's, not the sender's
    args.pop_back();
  if (args.empty() || !args[0].is_string())
    return std::nullopt;
  room_event e{std::string(args[0].as_string()), json::object{}};
  if (args.size() == 2)
    e.data = std::move(args[1]);
  else if (args.size() > 2)
    e.data = json::array(args.begin() + 1, args.end());
  return e;
}

namespace {
bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}
} // namespace

channel_kind kind_of(std::string_view channel) {
  if (starts_with(channel, "presence-"))
    return channel_kind::presence;
  if (starts_with(channel, "private-encrypted-"))
    return channel_kind::private_encrypted;
  if (starts_with(channel, "private-"))
    return channel_kind::private_;
  if (starts_with(channel, "#server-to-user-"))
    return channel_kind::server_to_user;
  return channel_kind::public_;
}

bool valid_channel_name(std::string_view channel) {
  if (channel.empty() || channel.size() > 164)
    return false;
  if (starts_with(channel, "#server-to-user-"))
    channel.remove_prefix(1);
  for (unsigned char c : channel) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'
              || c == '=' || c == '@' || c == ',' || c == '.' || c == ';';
    if (!ok)
      return false;
  }
  return true;
}

bool valid_socket_id(std::string_view id) {
  auto dot = id.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == id.size() || id.size() > 41)
    return false;
  for (std::size_t i = 0; i < id.size(); ++i)
    if (i != dot && (id[i] < '0' || id[i] > '9'))
      return false;
  return true;
}

} // namespace pusher
