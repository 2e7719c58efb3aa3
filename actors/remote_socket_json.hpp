// A socket's description (actors/api.hpp remote_socket) as JSON, and back: what the
// console's `socket` and `sockets` print and what the activity feed's connect items carry
// (the Admin UI rebuilds its socket from them).
//
//   {"id", "nsp", "node", "client", "transport", "address", "rooms": [...], "data": {...},
//    "handshake": {"address", "issued", "url", "headers": {...}, "query": {...}, "auth"?}}
//
// "auth" is there only when the description has one (the activity feed leaves it out).
#pragma once

#include "actors/api.hpp"

#include <boost/json/object.hpp>

#include <optional>

namespace sio {

boost::json::object remote_socket_to_json(const remote_socket& s);
/// Headers or query parameters as an object (a repeated name keeps its last value).
boost::json::object pairs_to_json(const header_list& list);
/// Nothing when `v` is not such an object.
std::optional<remote_socket> remote_socket_from_json(const boost::json::value& v);

} // namespace sio
