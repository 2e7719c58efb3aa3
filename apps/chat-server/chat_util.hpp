// Small helpers shared by the chat modules: times, payload fields, error texts.
#pragma once

#include "actors/api.hpp"

#include <caf/error.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chat {

namespace json = boost::json;

std::int64_t now_ms();
/// 2024-11-08T12:00:00.000Z
std::string iso_time(std::int64_t ms);
inline std::string iso_now() {
  return iso_time(now_ms());
}

/// A string field of an object payload, or nothing.
std::optional<std::string> string_field(const json::value& payload, std::string_view key);
/// An id given as a non-empty string or an integer, as text; nothing otherwise.
std::optional<std::string> id_value(const json::value& v);
/// A string or number field as text (ids may arrive as numbers), or nothing.
std::optional<std::string> id_field(const json::value& payload, std::string_view key);

/// The length of UTF-8 text as JavaScript counts it (UTF-16 code units): the limits of
/// docs/chat-protocol.md are in characters, as the seeds' `.length` checks were.
std::size_t text_length(std::string_view utf8);

/// The first argument of an event, or null.
const json::value& first_arg(const sio::message& m);

/// {status:"ok", ...extra}
json::object ok_status(json::object extra = {});
/// {status:"error", error}
json::object error_status(std::string_view error);

/// Answers a refused event: through the ack when the client asked for one, else as
/// `error` {message} to the sender.
void refuse(sio::socket& s, const sio::ack_responder& ack, std::string_view message);

/// A room name given as a non-empty string or as {room}, or nothing.
std::optional<std::string> room_name(const json::value& payload);

/// The refusal of an act in a conversation by a user who does not take part in it.
inline constexpr std::string_view not_participant_error = "Forbidden: not a participant of this conversation";

/// The user-facing text of a persistence (or other) error.
std::string describe(const caf::error& err);

/// The socket's identity, set by authentication, the handshake or `identify`.
std::optional<std::string> user_id_of(sio::socket& s);
std::string user_name_of(sio::socket& s);

} // namespace chat
