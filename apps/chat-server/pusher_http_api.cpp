// Pusher's HTTP API (docs/chat-protocol.md, "Pusher HTTP API"): what a Laravel backend (or
// any Pusher server library) calls to publish and to ask about channels. Every request is
// signed (transport/pusher/signature.hpp). A channel is the Socket.IO room of the same name
// in the app's namespace, so an event published here reaches Socket.IO sockets and Pusher
// subscribers of that room alike.
#include "apps/chat-server/chat_internal.hpp"

#include "transport/pusher/message.hpp"
#include "transport/pusher/signature.hpp"
#include "transport/socketio/packet.hpp"

#include <algorithm>
#include <chrono>

namespace chat {

namespace {

using sio::http::reply_ptr;
using sio::http::request;
using sio::http::response;

// Pusher's limits (HTTP API reference): 10 KB of data per event, 100 channels per
// trigger, 10 events per batch, 200 characters per event name.
constexpr std::size_t max_data_bytes = 10 * 1024;
constexpr std::size_t max_channels = 100;
constexpr std::size_t max_batch = 10;
constexpr std::size_t max_event_name = 200;
constexpr std::size_t max_user_id = 200;

// Pusher answers errors in plain text and successes as JSON.
response refused(int status, std::string message) {
  return response::text(status, std::move(message));
}

response answer(json::object body) {
  return response::json(200, json::serialize(body));
}

bool is_presence(std::string_view channel) {
  return pusher::kind_of(channel) == pusher::channel_kind::presence;
}

// The comma-separated `info` attributes, each one of `allowed`; the refusal otherwise.
std::optional<std::string> parse_info(const request& req, std::initializer_list<std::string_view> allowed,
                                      std::vector<std::string>& out) {
  auto* info = req.param("info");
  if (!info || info->empty())
    return std::nullopt;
  std::string_view rest = *info;
  for (;;) {
    auto comma = rest.find(',');
    auto attribute = rest.substr(0, comma);
    if (std::find(allowed.begin(), allowed.end(), attribute) == allowed.end())
      return "Unsupported info attribute: " + std::string(attribute.substr(0, 64));
    out.emplace_back(attribute);
    if (comma == std::string_view::npos)
      return std::nullopt;
    rest.remove_prefix(comma + 1);
  }
}

bool wants(const std::vector<std::string>& info, std::string_view attribute) {
  return std::find(info.begin(), info.end(), attribute) != info.end();
}

// Distinct users of each of `channels` (presence channels, whichever protocol their
// members came by, on any node): `done` with the counts in the same order, or 503.
template <class Done> void user_counts(chat_app& app, std::vector<std::string> channels, reply_ptr r, Done done) {
  ask_actor<presence_counts>(
      app, app.presence, presence_count_query{std::move(channels)},
      [done](presence_counts& counts) mutable { done(counts.users); },
      [r](caf::error& err) { r->send(refused(503, describe(err))); }, caf::duration{state_timeout});
}

// -- publishing ---------------------------------------------------------------------------------

/// One event to publish: checked in full before anything is sent.
struct pusher_event {
  std::string name;
  json::value arg; // the data parsed as JSON when it parses, else the data string
  std::vector<std::string> channels;
  std::optional<std::string> socket_id;
};

// Checks one event of an events or batch_events body; the status and refusal otherwise.
std::optional<std::pair<int, std::string>> parse_event(const json::value& v, bool single_channel, pusher_event& out) {
  auto bad = [](std::string why) { return std::make_optional(std::make_pair(400, std::move(why))); };
  if (!v.is_object())
    return bad("An event must be a JSON object");
  auto& o = v.as_object();
  auto* name = o.if_contains("name");
  if (!name || !name->is_string() || name->as_string().empty() || text_length(name->as_string()) > max_event_name)
    return bad("name must be a string of 1 to 200 characters");
  out.name = std::string(name->as_string());
  // Socket.IO clients could not take these (socket.io's emit refuses them too).
  if (sio::socketio::is_reserved_event(out.name))
    return bad("Reserved event name: " + out.name);
  auto* data = o.if_contains("data");
  if (!data || !data->is_string())
    return bad("data must be a string");
  if (data->as_string().size() > max_data_bytes)
    return std::make_optional(std::make_pair(413, std::string("Payload too large: data is over 10 KB")));
  auto parsed = sio::socketio::parse_json(data->as_string());
  out.arg = parsed ? std::move(*parsed) : json::value(data->as_string());

  auto* channels = single_channel ? nullptr : o.if_contains("channels");
  if (channels) {
    if (!channels->is_array() || channels->as_array().empty() || channels->as_array().size() > max_channels)
      return bad("channels must be an array of 1 to 100 channel names");
    for (auto& c : channels->as_array()) {
      if (!c.is_string() || !pusher::valid_channel_name(c.as_string()))
        return bad("Invalid channel name in channels");
      out.channels.emplace_back(c.as_string());
    }
  } else if (auto* channel = o.if_contains("channel")) {
    if (!channel->is_string() || !pusher::valid_channel_name(channel->as_string()))
      return bad("Invalid channel name");
    out.channels.emplace_back(channel->as_string());
  } else {
    return bad(single_channel ? "channel is required" : "channel or channels is required");
  }
  if (auto* socket_id = o.if_contains("socket_id")) {
    if (!socket_id->is_string() || !pusher::valid_socket_id(socket_id->as_string()))
      return bad("Invalid socket_id");
    out.socket_id = std::string(socket_id->as_string());
  }
  return std::nullopt;
}

// To every member of the channels' rooms once, except the socket_id's own subscriptions.
void publish(chat_app& app, const std::string& nsp, pusher_event& e) {
  auto b = app.io.in(nsp);
  for (auto& channel : e.channels)
    b = b.to(channel);
  if (e.socket_id)
    b = b.except(*e.socket_id);
  b.emit(e.name, {std::move(e.arg)});
}

std::optional<json::value> object_body(const request& req) {
  auto body = sio::socketio::parse_json(req.body);
  if (!body || !body->is_object())
    return std::nullopt;
  return body;
}

// POST /apps/{id}/events {name, data, channel | channels, socket_id?}
void trigger_event(chat_app& app, sio::pusher_server& pusher, const pusher::app& a, const request& req,
                   const std::vector<std::string>&, reply_ptr r) {
  auto body = object_body(req);
  if (!body)
    return r->send(refused(400, "The body must be a JSON object"));
  if (body->as_object().contains("info"))
    return r->send(refused(400, "info is not supported on events"));
  pusher_event e;
  if (auto refusal = parse_event(*body, false, e))
    return r->send(refused(refusal->first, refusal->second));
  publish(app, pusher.nsp_of(a), e);
  r->send(answer({}));
}

// POST /apps/{id}/batch_events {batch: [{channel, name, data, socket_id?}, ...]}
void trigger_batch(chat_app& app, sio::pusher_server& pusher, const pusher::app& a, const request& req,
                   const std::vector<std::string>&, reply_ptr r) {
  auto body = object_body(req);
  auto* batch = body ? body->as_object().if_contains("batch") : nullptr;
  if (!batch || !batch->is_array() || batch->as_array().empty())
    return r->send(refused(400, "batch must be an array of events"));
  if (batch->as_array().size() > max_batch)
    return r->send(refused(400, "Batch too large: at most 10 events"));
  std::vector<pusher_event> events(batch->as_array().size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    auto& item = batch->as_array()[i];
    if (item.is_object() && item.as_object().contains("info"))
      return r->send(refused(400, "info is not supported on batch events"));
    if (auto refusal = parse_event(item, true, events[i]))
      return r->send(refused(refusal->first, "batch[" + std::to_string(i) + "]: " + refusal->second));
  }
  for (auto& e : events)
    publish(app, pusher.nsp_of(a), e);
  r->send(answer({}));
}

// -- channel queries ----------------------------------------------------------------------------

// GET /apps/{id}/channels?filter_by_prefix=&info=user_count
void list_channels(chat_app& app, sio::pusher_server& pusher, const pusher::app& a, const request& req,
                   const std::vector<std::string>&, reply_ptr r) {
  std::vector<std::string> info;
  if (auto refusal = parse_info(req, {"user_count"}, info))
    return r->send(refused(400, *refusal));
  auto* prefix = req.param("filter_by_prefix");
  std::string filter = prefix ? *prefix : std::string();
  if (filter.size() > 164) // the longest channel name
    return r->send(refused(400, "filter_by_prefix is too long"));
  bool with_users = wants(info, "user_count");
  // Pusher's rule: user_count is only counted over presence channels.
  if (with_users && filter.rfind("presence-", 0) != 0)
    return r->send(refused(400, "info=user_count requires filter_by_prefix=presence-"));
  app.io.rooms(pusher.nsp_of(a), filter, [&app, r, with_users](std::vector<sio::server::room_summary> rooms) {
    // Rooms whose names Pusher cannot spell (conversation ids, say) are not channels.
    std::vector<std::string> names;
    for (auto& room : rooms)
      if (pusher::valid_channel_name(room.name))
        names.push_back(std::move(room.name));
    auto answer_with = [r, names](const std::vector<std::uint64_t>& users) {
      json::object channels;
      for (std::size_t i = 0; i < names.size(); ++i) {
        json::object attributes;
        if (i < users.size())
          attributes["user_count"] = users[i];
        channels[names[i]] = std::move(attributes);
      }
      r->send(answer({{"channels", std::move(channels)}}));
    };
    if (!with_users)
      return answer_with({});
    user_counts(app, names, r, answer_with);
  });
}

// GET /apps/{id}/channels/{name}?info=user_count,subscription_count
void channel_info(chat_app& app, sio::pusher_server& pusher, const pusher::app& a, const request& req,
                  const std::vector<std::string>& parts, reply_ptr r) {
  auto& channel = parts[3];
  if (!pusher::valid_channel_name(channel))
    return r->send(refused(400, "Invalid channel name"));
  std::vector<std::string> info;
  if (auto refusal = parse_info(req, {"user_count", "subscription_count"}, info))
    return r->send(refused(400, *refusal));
  bool with_users = wants(info, "user_count");
  if (with_users && !is_presence(channel))
    return r->send(refused(400, "info=user_count is only available for presence channels"));
  bool with_subscriptions = wants(info, "subscription_count");
  app.io.rooms(pusher.nsp_of(a), channel,
               [&app, r, channel, with_users, with_subscriptions](std::vector<sio::server::room_summary> rooms) {
                 std::size_t members = 0;
                 for (auto& room : rooms)
                   if (room.name == channel)
                     members = room.members;
                 auto answer_with = [r, members, with_subscriptions](std::optional<std::uint64_t> users) {
                   json::object out{{"occupied", members > 0}};
                   if (users)
                     out["user_count"] = *users;
                   if (with_subscriptions)
                     out["subscription_count"] = members;
                   r->send(answer(std::move(out)));
                 };
                 if (!with_users)
                   return answer_with(std::nullopt);
                 user_counts(app, {channel}, r, [answer_with](const std::vector<std::uint64_t>& users) {
                   answer_with(users.empty() ? 0 : users.front());
                 });
               });
}

// GET /apps/{id}/channels/{name}/users
void channel_users(chat_app& app, sio::pusher_server&, const pusher::app&, const request&,
                   const std::vector<std::string>& parts, reply_ptr r) {
  auto& channel = parts[3];
  if (!pusher::valid_channel_name(channel))
    return r->send(refused(400, "Invalid channel name"));
  if (!is_presence(channel))
    return r->send(refused(400, "Users can only be listed for presence channels"));
  ask_actor<presence_list>(
      app, app.presence, presence_query{channel},
      [r](presence_list& list) {
        json::array users;
        for (auto& m : list.members)
          users.push_back(json::object{{"id", m.user}});
        r->send(answer({{"users", std::move(users)}}));
      },
      [r](caf::error& err) { r->send(refused(503, describe(err))); }, caf::duration{state_timeout});
}

// POST /apps/{id}/users/{user_id}/terminate_connections
void terminate_connections(chat_app&, sio::pusher_server& pusher, const pusher::app& a, const request&,
                           const std::vector<std::string>& parts, reply_ptr r) {
  auto& user = parts[3];
  if (user.empty() || user.size() > max_user_id)
    return r->send(refused(400, "Invalid user id"));
  // Answered once every node closed its connections of the user (or did not answer in time).
  pusher.terminate_user(a.id, user, [r](std::size_t) { r->send(answer({})); });
}

// -- routing ------------------------------------------------------------------------------------

using handler = void (*)(chat_app&, sio::pusher_server&, const pusher::app&, const request&,
                         const std::vector<std::string>&, reply_ptr);

/// A route: its method and its path's segments after /apps/{id}, "*" for a parameter.
struct api_route {
  const char* method;
  std::vector<std::string_view> shape;
  handler fn;
};

const std::vector<api_route>& api_routes() {
  static const std::vector<api_route> routes{
      {"POST", {"events"}, trigger_event},
      {"POST", {"batch_events"}, trigger_batch},
      {"GET", {"channels"}, list_channels},
      {"GET", {"channels", "*"}, channel_info},
      {"GET", {"channels", "*", "users"}, channel_users},
      {"POST", {"users", "*", "terminate_connections"}, terminate_connections},
  };
  return routes;
}

bool matches(const api_route& route, const std::vector<std::string>& parts) {
  if (parts.size() != route.shape.size() + 2)
    return false;
  for (std::size_t i = 0; i < route.shape.size(); ++i)
    if (route.shape[i] != "*" ? parts[i + 2] != route.shape[i] : parts[i + 2].empty())
      return false;
  return true;
}

// The decoded path's segments: "/apps/3/events" -> apps, 3, events (empty ones kept, so
// "/apps/3//events" matches nothing).
std::vector<std::string> segments(const std::string& path) {
  std::vector<std::string> out;
  std::size_t start = 1;
  for (;;) {
    auto slash = path.find('/', start);
    out.push_back(path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos)
      return out;
    start = slash + 1;
  }
}

// Route, then app, then signature: an unknown path is 404 and a known one with another
// method 405 before any credential is looked at, as Pusher and Reverb answer.
void dispatch(chat_app& app, sio::pusher_server& pusher, const request& req, reply_ptr r) {
  auto parts = segments(req.path);
  const api_route* found = nullptr;
  std::string allowed;
  for (auto& route : api_routes()) {
    if (!matches(route, parts))
      continue;
    if (req.method == route.method)
      found = &route;
    else
      allowed = route.method;
  }
  if (!found && allowed.empty())
    return r->send(refused(404, "Not found"));
  if (!found) {
    auto res = refused(405, "Method not allowed");
    res.headers.emplace_back("allow", allowed);
    return r->send(std::move(res));
  }
  auto* a = pusher.apps().by_id(parts[1]);
  if (!a)
    return r->send(refused(404, "Unknown app_id"));
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  if (auto refusal = pusher::verify_request(*a, req.method, req.path, req.query, req.body, now.count()))
    return r->send(refused(refusal->status, refusal->message));
  found->fn(app, pusher, *a, req, parts, std::move(r));
}

} // namespace

void mount_pusher_http_api(chat_app& app, sio::pusher_server& pusher) {
  auto route = [&app, &pusher](const request& req, reply_ptr r) { dispatch(app, pusher, req, std::move(r)); };
  // Every method, so that a known path with the wrong one is answered 405, not 404.
  for (auto* method : {"GET", "POST", "PUT", "PATCH", "DELETE"})
    app.io.route(method, "/apps/*", route);
}

} // namespace chat
