// The Pusher Channels protocol 7 wire format (https://pusher.com/docs/channels/library_auth_reference/pusher-websockets-protocol/):
// every WebSocket message is a JSON object {"event", "channel"?, "data"?}. The server's
// `data` is a JSON-encoded string (pusher:error's is an object, as the protocol shows);
// a client's `data` is an object, or a string holding JSON. Pure functions, no I/O.
#pragma once

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace pusher {

/// What a client sent, checked for its shape only.
struct client_message {
  std::string event;
  std::optional<std::string> channel;
  /// `data` as sent: an object stays an object; a string that holds JSON is parsed (as
  /// pusher-js sends channel_data); any other string stays a string; absent is null.
  boost::json::value data;
};
/// Why a client message was not understood (pusher:error 4200).
struct bad_message {
  std::string reason;
};
/// Decodes one text message: a JSON object with a string `event`.
std::variant<client_message, bad_message> decode(std::string_view text);

/// A server event whose `data` is the JSON encoding of `data` (the protocol's
/// JSON-in-a-string form); `user_id` is added for client events on presence channels.
std::string encode_event(std::string_view event, std::optional<std::string_view> channel,
                         const boost::json::value& data, std::optional<std::string_view> user_id = std::nullopt);
/// The same with `data` already encoded (relayed as it came, e.g. encrypted payloads).
std::string encode_event_raw(std::string_view event, std::optional<std::string_view> channel,
                             std::string_view data_text, std::optional<std::string_view> user_id = std::nullopt);

std::string encode_connection_established(std::string_view socket_id, std::int64_t activity_timeout_s);
/// pusher:error {code, message}; a null code is sent as null.
std::string encode_error(std::optional<int> code, std::string_view message);
std::string encode_ping();
std::string encode_pong();
/// pusher_internal:subscription_succeeded; `data` is {} or {"presence":{...}}.
std::string encode_subscription_succeeded(std::string_view channel, const boost::json::value& data);
/// pusher:subscription_error {type, error, status}, as pusher-js reports failed auth.
std::string encode_subscription_error(std::string_view channel, std::string_view type, std::string_view error,
                                      int status);
/// pusher:signin_success {user_data}.
std::string encode_signin_success(std::string_view user_data);

/// A Socket.IO event as a Pusher channel's subscribers get it: the event name, and the
/// data (the one argument; {} for none; an array of them for several).
struct room_event {
  std::string event;
  boost::json::value data;
};
/// The event that an Engine.IO message ("4" + a Socket.IO EVENT packet, as broadcasts are
/// encoded) carries; nothing for any other packet and for binary events, which Pusher
/// cannot carry.
std::optional<room_event> from_socketio(std::string_view eio_message, bool ends_with_offset = false);

/// The protocol's close and error codes (4000-4099: do not reconnect; 4100-4199:
/// reconnect after a while; 4200-4299: reconnect at once; 4300-4399: other).
namespace code {
constexpr int app_not_found = 4001;
constexpr int app_disabled = 4003;
constexpr int over_quota = 4004;
constexpr int path_not_found = 4005;
constexpr int invalid_version = 4006;
constexpr int unsupported_protocol = 4007;
constexpr int no_protocol = 4008;
constexpr int unauthorized = 4009;
constexpr int over_capacity = 4100;
constexpr int generic_reconnect = 4200;
constexpr int pong_not_received = 4201;
constexpr int closed_for_inactivity = 4202;
constexpr int client_event_rejected = 4301;
} // namespace code

enum class channel_kind { public_, private_, presence, private_encrypted, server_to_user };
/// By prefix: presence-, private-encrypted-, private-, #server-to-user-, else public.
channel_kind kind_of(std::string_view channel);
/// Pusher's channel names: 1 to 164 of [A-Za-z0-9_-=@,.;] (and the '#' of
/// #server-to-user- channels, which clients never subscribe to).
bool valid_channel_name(std::string_view channel);
/// Socket ids as Pusher forms them: two decimal numbers joined by '.'.
bool valid_socket_id(std::string_view id);

} // namespace pusher
