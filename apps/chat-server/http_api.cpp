// HTTP for the chat app (docs/chat-protocol.md §6, §7): health, conversation history and
// posting for clients whose socket is down, the backend API (X-API-Key), the web page
// and the Socket.IO client bundle. Store reads run in a short-lived actor per request,
// so no I/O thread ever waits for the disk.
#include "actors/cluster_node.hpp"
#include "apps/chat-server/chat_internal.hpp"
#include "apps/chat-server/static_files.hpp"

#include "actors/persistence_actor.hpp"
#include "transport/socketio/packet.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

namespace chat {

namespace {

using sio::http::reply_ptr;
using sio::http::request;
using sio::http::response;

response json_response(int status, const json::value& body) {
  return response::json(status, json::serialize(body));
}

response error_response(int status, std::string_view error) {
  return json_response(status, json::object{{"error", error}});
}

// The HTTP status of a store refusal.
int status_of(const caf::error& err) {
  if (err.category() != persistence_error_category)
    return 503;
  switch (static_cast<persistence_errc>(err.code())) {
  case persistence_errc::not_participant:
  case persistence_errc::forbidden:
    return 403;
  case persistence_errc::not_found:
    return 404;
  case persistence_errc::invalid_argument:
  case persistence_errc::duplicate:
    return 400;
  default:
    return 503;
  }
}

// A request body as JSON re-emitted to clients may carry it: non-finite numbers become
// null (sio::socketio::parse_json), so nothing invalid reaches a client.
std::optional<json::value> parse_body(const request& req) {
  return sio::socketio::parse_json(req.body);
}

// Asks the persistence actor from outside any actor.
template <class Reply, class Request, class Ok, class Fail> void ask(chat_app& app, Request req, Ok ok, Fail fail) {
  ask_actor<Reply>(app, app.persistence, std::move(req), std::move(ok), std::move(fail),
                   caf::duration{persistence_timeout});
}

// The non-empty segments of the request's path, each decoded on its own: a conversation
// id holding an encoded '/' (%2F) stays one segment.
std::vector<std::string> split_path(const request& req) {
  std::vector<std::string> out;
  auto url = boost::urls::parse_origin_form(req.target);
  if (!url)
    return out;
  for (auto segment : url->segments())
    if (!segment.empty())
      out.push_back(std::move(segment));
  return out;
}

// The Bearer token's user when identities are verified (nothing in anonymous mode); false
// once a missing or bad token has been answered with 401.
bool bearer_user(const chat_app& app, const request& req, const reply_ptr& r, std::optional<std::string>& user) {
  if (!verified(app))
    return true;
  auto* h = req.header("authorization");
  if (!h || h->rfind("Bearer ", 0) != 0) {
    r->send(error_response(401, "Authentication error: No token provided"));
    return false;
  }
  auto v = verify_token(app, std::string_view(*h).substr(7));
  if (!v.error.empty()) {
    r->send(error_response(401, v.error));
    return false;
  }
  user = std::move(v.user_id);
  return true;
}

void history(chat_app& app, const std::string& conversation, const std::optional<std::string>& reader,
             const request& req, reply_ptr r) {
  persistence::history_query q;
  q.conversation_id = conversation;
  if (auto* before = req.param("before"); before && !before->empty())
    q.before_id = *before;
  q.limit = 50;
  if (auto* limit = req.param("limit")) {
    try {
      auto n = std::stol(*limit);
      if (n < 1 || n > 100)
        return r->send(error_response(400, "limit must be 1..100"));
      q.limit = static_cast<std::uint32_t>(n);
    } catch (...) {
      return r->send(error_response(400, "limit must be a number"));
    }
  }
  ask<persistence::history_page>(
      app, read_history{q, reader.value_or("")},
      [r, conversation](persistence::history_page& page) {
        json::array messages;
        for (auto& m : page.messages)
          messages.push_back(message_json(m));
        json::value next = nullptr;
        if (page.has_more && !page.messages.empty())
          next = page.messages.back().id;
        r->send(json_response(
            200,
            json::object{{"conversationId", conversation}, {"messages", std::move(messages)}, {"nextBefore", next}}));
      },
      [r](caf::error& err) {
        auto status = status_of(err);
        r->send(status == 404 ? error_response(400, "unknown before cursor") : error_response(status, describe(err)));
      });
}

void post_message(chat_app& app, const std::string& conversation, const std::optional<std::string>& sender,
                  const request& req, reply_ptr r) {
  auto body = parse_body(req);
  if (!body)
    return r->send(error_response(400, "Invalid JSON"));
  persistence::conversation_message msg;
  if (auto err = parse_new_message(*body, conversation, msg))
    return r->send(error_response(400, *err));
  if (sender && msg.sender_id != *sender)
    return r->send(error_response(403, impersonation_error("senderId")));
  if (!app.allow_post(sender, req.remote_address))
    return r->send(error_response(429, "Rate limit exceeded"));
  ask<persistence::conversation_message>(
      app, store_message{msg, verified(app)},
      [&app, r](persistence::conversation_message& stored) {
        auto doc = message_json(stored);
        app.io.in(app.opts.conversations_namespace)
            .to(stored.conversation_id)
            .emit("receiveMessage", {json::object{{"conversationId", stored.conversation_id}, {"message", doc}}});
        r->send(json_response(201, json::object{{"status", "ok"}, {"message", doc}}));
      },
      [r](caf::error& err) { r->send(error_response(status_of(err), describe(err))); });
}

json::object participants_json(const persistence::participant_list& list) {
  json::array users;
  for (auto& u : list.user_ids)
    users.emplace_back(u);
  return json::object{{"conversationId", list.conversation_id}, {"open", list.open}, {"participants", users}};
}

// Backend: GET / POST {userIds} / DELETE .../{userId} on /api/conversations/{id}/participants.
void manage_participants(chat_app& app, const std::string& conversation, const std::vector<std::string>& parts,
                         const request& req, reply_ptr r) {
  auto ok = [r](persistence::participant_list& list) { r->send(json_response(200, participants_json(list))); };
  auto fail = [r](caf::error& err) { r->send(error_response(status_of(err), describe(err))); };
  if (req.method == "GET" && parts.size() == 4)
    return ask<persistence::participant_list>(app, get_participants{conversation}, ok, fail);
  if (req.method == "DELETE" && parts.size() == 5)
    return ask<persistence::participant_list>(
        app, remove_participant{conversation, parts[4], now_ms()}, ok, [r](caf::error& err) {
          auto status = status_of(err);
          r->send(error_response(status, status == 404 ? "not a participant" : describe(err)));
        });
  if (req.method != "POST" || parts.size() != 4)
    return r->send(error_response(404, "not found"));
  auto body = parse_body(req);
  if (!body)
    return r->send(error_response(400, "Invalid JSON"));
  constexpr std::size_t max_ids = 1000;
  std::vector<std::string> users;
  auto* ids = body->is_object() ? body->as_object().if_contains("userIds") : nullptr;
  if (ids && ids->is_array() && !ids->as_array().empty() && ids->as_array().size() <= max_ids)
    for (auto& v : ids->as_array())
      if (auto id = id_value(v))
        users.push_back(std::move(*id));
  if (!ids || !ids->is_array() || users.size() != ids->as_array().size() || users.empty())
    return r->send(error_response(400, "userIds must be an array of 1 to 1000 ids (strings or integers)"));
  ask<persistence::participant_list>(app, add_participants{conversation, std::move(users), now_ms()}, ok, fail);
}

void api_emit(chat_app& app, const request& req, reply_ptr r) {
  auto parsed = parse_body(req);
  if (!parsed)
    return r->send(error_response(400, "Invalid JSON"));
  auto& body = *parsed;
  auto event = string_field(body, "event");
  if (!event || event->empty())
    return r->send(error_response(400, "event is required"));
  // socket.io's emit throws on these; a client that receives one drops the connection.
  if (sio::socketio::is_reserved_event(*event))
    return r->send(error_response(400, "reserved event name: " + *event));
  auto nsp = string_field(body, "namespace").value_or(app.opts.platform_namespace);
  auto b = app.io.in(nsp);
  if (auto room = id_field(body, "room"))
    b = b.to(*room);
  if (auto user = id_field(body, "userId"))
    b = b.to("private-user." + *user);
  // except: a room (or socket id) whose members do not get it, or a list of them.
  if (auto* except = body.as_object().if_contains("except")) {
    constexpr std::size_t max_except = 100;
    auto bad = [&] { r->send(error_response(400, "except must be a room or an array of 1 to 100 rooms")); };
    if (except->is_array()) {
      if (except->as_array().empty() || except->as_array().size() > max_except)
        return bad();
      for (auto& v : except->as_array()) {
        auto room = id_value(v);
        if (!room)
          return bad();
        b = b.except(*room);
      }
    } else if (auto room = id_value(*except)) {
      b = b.except(*room);
    } else {
      return bad();
    }
  }
  sio::message m;
  if (auto* data = body.as_object().if_contains("data"))
    m.args.push_back(*data);
  b.emit(*event, std::move(m));
  r->send(json_response(200, json::object{{"status", "ok"}}));
}

} // namespace

bool api_key_ok(const chat_app& app, const request& req, const reply_ptr& r) {
  if (app.opts.api_key.empty()) {
    r->send(error_response(503, "API disabled: no api-key configured"));
    return false;
  }
  auto* key = req.header("x-api-key");
  if (!key || !secret_equals(*key, app.opts.api_key)) {
    r->send(error_response(401, "Invalid API key"));
    return false;
  }
  return true;
}

void mount_http_api(chat_app& app) {
  auto& io = app.io;

  io.route("GET", "/health", [&app](const request&, reply_ptr r) {
    auto uptime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - app.started);
    json::object base{{"status", "ok"},
                      {"uptime", uptime.count()},
                      {"connections", app.io.connection_count()},
                      {"sockets", app.platform_sockets.load()}};
    if (auto& dir = app.io.core()->cluster_members) {
      // This node and the members it has admitted (a test waits for all of them).
      json::array members;
      std::string self;
      for (auto& n : dir->members()) {
        members.push_back(json::value(n.name));
        if (n.number == dir->self_number())
          self = n.name;
      }
      base["cluster"] = json::object{{"node", self}, {"members", std::move(members)}};
    }
    ask<std::int64_t>(
        app, count_messages{},
        [&app, r, base](std::int64_t conversation) {
          ask<std::int64_t>(
              app, count_platform_messages{},
              [&app, r, base, conversation](std::int64_t platform) {
                auto out = base;
                out["messages"] = json::object{{"conversation", conversation}, {"platform", platform}};
                // A draining node says so with 503: load balancers stop sending it clients.
                bool draining = app.io.draining();
                if (draining)
                  out["status"] = "draining";
                r->send(json_response(draining ? 503 : 200, out));
              },
              [r, base](caf::error&) {
                auto out = base;
                out["status"] = "degraded";
                r->send(json_response(503, out));
              });
        },
        [r, base](caf::error&) {
          auto out = base;
          out["status"] = "degraded";
          r->send(json_response(503, out));
        });
  });

  // /api/conversations/{id}/messages (clients, Bearer) and .../participants (backend).
  auto conversation_route = [&app](const request& req, reply_ptr r) {
    auto parts = split_path(req);
    if (parts.size() >= 4 && parts[3] == "participants") {
      if (api_key_ok(app, req, r))
        manage_participants(app, parts[2], parts, req, r);
      return;
    }
    if (parts.size() != 4 || parts[3] != "messages" || req.method == "DELETE")
      return r->send(error_response(404, "not found"));
    std::optional<std::string> user;
    if (!bearer_user(app, req, r, user))
      return;
    if (req.method == "POST")
      return post_message(app, parts[2], user, req, r);
    history(app, parts[2], user, req, r);
  };
  io.route("GET", "/api/conversations/*", conversation_route);
  io.route("POST", "/api/conversations/*", conversation_route);
  io.route("DELETE", "/api/conversations/*", conversation_route);

  io.route("POST", "/api/emit", [&app](const request& req, reply_ptr r) {
    if (api_key_ok(app, req, r))
      api_emit(app, req, r);
  });

  io.route("GET", "/api/connections", [&app](const request& req, reply_ptr r) {
    if (!api_key_ok(app, req, r))
      return;
    ask<persistence::connection_totals>(
        app, get_connection_totals{},
        [&app, r](persistence::connection_totals& totals) {
          ask<connection_list>(
              app, list_active_connections{1000},
              [r, totals](connection_list& list) {
                json::object by_platform;
                for (auto& p : totals.by_platform)
                  by_platform[p.platform] = p.active;
                json::array connections;
                for (auto& c : list.connections) {
                  json::object o{
                      {"socketId", c.socket_id}, {"connectedAt", c.connected_at}, {"active", !c.disconnected_at}};
                  o["userId"] = c.user_id ? json::value(*c.user_id) : json::value(nullptr);
                  o["platform"] = c.platform ? json::value(*c.platform) : json::value(nullptr);
                  o["appVersion"] = c.app_version ? json::value(*c.app_version) : json::value(nullptr);
                  o["disconnectedAt"] = c.disconnected_at ? json::value(*c.disconnected_at) : json::value(nullptr);
                  connections.push_back(std::move(o));
                }
                r->send(json_response(200, json::object{{"total", totals.total},
                                                        {"active", totals.active},
                                                        {"byPlatform", by_platform},
                                                        {"connections", connections}}));
              },
              [r](caf::error& err) { r->send(error_response(503, describe(err))); });
        },
        [r](caf::error& err) { r->send(error_response(503, describe(err))); });
  });

  io.route("GET", "/api/presence/*", [&app](const request& req, reply_ptr r) {
    if (!api_key_ok(app, req, r))
      return;
    auto parts = split_path(req);
    if (parts.size() != 3)
      return r->send(error_response(404, "not found"));
    // The presence actor holds every node's members.
    ask_actor<presence_list>(
        app, app.presence, presence_query{parts[2]},
        [r](presence_list& list) {
          r->send(json_response(200, json::object{{"room", list.room}, {"members", members_json(list)}}));
        },
        [r](caf::error& err) { r->send(error_response(503, describe(err))); }, caf::duration{state_timeout});
  });

  io.route("GET", "/api/users/*", [&app](const request& req, reply_ptr r) {
    if (!api_key_ok(app, req, r))
      return;
    auto parts = split_path(req);
    if (parts.size() != 4)
      return r->send(error_response(404, "not found"));
    auto user = parts[2];
    if (parts[3] == "conversations") {
      return ask<conversation_list>(
          app, list_active_conversations{user, 100},
          [r, user](conversation_list& list) {
            json::array out;
            for (auto& c : list.conversations)
              out.push_back(
                  json::object{{"conversationId", c.conversation_id}, {"lastMessageAt", iso_time(c.last_message_at)}});
            r->send(json_response(200, json::object{{"userId", user}, {"conversations", out}}));
          },
          [r](caf::error& err) { r->send(error_response(503, describe(err))); });
    }
    if (parts[3] == "status") {
      // Online anywhere in the cluster (the presence actor's counts), last seen in the store.
      return ask_actor<online_state>(
          app, app.presence, online_query{user},
          [&app, r](online_state& state) {
            ask<last_seen_info>(
                app, get_last_seen{state.user},
                [r, user = state.user, online = state.online](last_seen_info& info) {
                  json::value last = nullptr;
                  if (info.last_seen)
                    last = iso_time(*info.last_seen);
                  r->send(json_response(200, json::object{{"id", user}, {"is_online", online}, {"last_seen", last}}));
                },
                [r](caf::error& err) { r->send(error_response(503, describe(err))); });
          },
          [r](caf::error& err) { r->send(error_response(503, describe(err))); }, caf::duration{state_timeout});
    }
    r->send(error_response(404, "not found"));
  });

  // Static files: the web page and the Socket.IO client bundle, read once at start-up so
  // serving them never touches the disk.
  auto files = std::make_shared<static_files>();
  if (load_static_files(app.opts.web_root, "/", false, *files)) {
    if (files->count("/index.html"))
      (*files)["/"] = (*files)["/index.html"];
  } else {
    spdlog::warn("web root {} not found: no web page", app.opts.web_root);
  }
  std::error_code ec;
  if (!app.opts.client_bundle.empty() && std::filesystem::is_regular_file(app.opts.client_bundle, ec))
    (*files)["/socket.io/socket.io.js"] = {"application/javascript; charset=utf-8", read_file(app.opts.client_bundle)};
  else
    spdlog::warn("client bundle {} not found: /socket.io/socket.io.js is not served", app.opts.client_bundle);
  io.route("GET", "*", [files](const request& req, reply_ptr r) {
    auto it = files->find(req.path);
    if (it == files->end())
      return r->send(error_response(404, "not found"));
    r->send(response::text(200, it->second.second, it->second.first));
  });
}

} // namespace chat
