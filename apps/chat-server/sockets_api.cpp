// The backend API's socket routes (docs/chat-protocol.md §6): the C++ API's socket-set
// verbs (fetch_sockets, sockets_join, sockets_leave, disconnect_sockets) and a
// server_side_emit, over HTTP with the API key. In a cluster each answers for every node.
#include "apps/chat-server/chat_internal.hpp"

#include "actors/api_service.hpp"
#include "transport/socketio/packet.hpp"

#include <algorithm>

namespace chat {

namespace {

using sio::http::reply_ptr;
using sio::http::request;
using sio::http::response;

// Bounds on what one request may name.
constexpr std::size_t max_rooms = 100;
constexpr std::size_t max_room_bytes = 256;
/// How long /api/nodes waits for the other nodes.
constexpr std::chrono::milliseconds nodes_timeout{2000};
constexpr const char* node_stats_event = "node-stats";

response json_response(int status, const json::value& body) {
  return response::json(status, json::serialize(body));
}

response error_response(int status, std::string_view error) {
  return json_response(status, json::object{{"error", error}});
}

bool add_room(std::string room, std::vector<std::string>& out) {
  if (room.empty() || room.size() > max_room_bytes || out.size() >= max_rooms)
    return false;
  out.push_back(std::move(room));
  return true;
}

// `field` of the body: absent, one room (a string or an integer id) or an array of them.
// The refusal when it is anything else.
std::optional<std::string> rooms_field(const json::object& body, std::string_view field,
                                       std::vector<std::string>& out) {
  auto* v = body.if_contains(field);
  if (!v)
    return std::nullopt;
  auto bad = std::string(field) + " must be a room or an array of 1 to 100 rooms (1 to 256 bytes each)";
  if (!v->is_array())
    return add_room(id_value(*v).value_or(""), out) ? std::nullopt : std::make_optional(bad);
  if (v->as_array().empty())
    return bad;
  for (auto& room : v->as_array())
    if (!add_room(id_value(room).value_or(""), out))
      return bad;
  return std::nullopt;
}

// Which sockets a request names: namespace (default the platform's), room(s), except.
struct selection {
  std::string nsp;
  std::vector<std::string> rooms;
  std::vector<std::string> except;

  sio::broadcast sockets(chat_app& app) const {
    auto b = app.io.in(nsp);
    for (auto& r : rooms)
      b = b.to(r);
    for (auto& r : except)
      b = b.except(r);
    return b;
  }
};

// GET: ?namespace=&room=&except= (room and except repeatable).
std::optional<std::string> select_from_query(const chat_app& app, const request& req, selection& sel) {
  sel.nsp = app.opts.platform_namespace;
  for (auto& [key, value] : req.query) {
    if (key == "namespace")
      sel.nsp = value;
    else if (key == "room" && !add_room(value, sel.rooms))
      return "room must be 1 to 256 bytes, at most 100 of them";
    else if (key == "except" && !add_room(value, sel.except))
      return "except must be 1 to 256 bytes, at most 100 of them";
  }
  return std::nullopt;
}

std::optional<std::string> select_from_body(const chat_app& app, const json::object& body, selection& sel) {
  sel.nsp = app.opts.platform_namespace;
  if (auto* nsp = body.if_contains("namespace")) {
    if (!nsp->is_string())
      return "namespace must be a string";
    sel.nsp = std::string(nsp->as_string());
  }
  if (auto err = rooms_field(body, "room", sel.rooms))
    return err;
  return rooms_field(body, "except", sel.except);
}

json::object socket_json(const sio::remote_socket& s) {
  json::array rooms;
  for (auto& r : s.rooms)
    rooms.emplace_back(r);
  auto data = sio::socketio::parse_json(s.data);
  // The handshake's headers, query and auth are left out: they may hold credentials.
  return json::object{{"id", s.id},
                      {"namespace", s.nsp},
                      {"rooms", std::move(rooms)},
                      {"node", s.node},
                      {"address", s.address},
                      {"connectedAt", iso_time(s.issued_ms)},
                      {"data", data ? std::move(*data) : json::value(nullptr)}};
}

void list_sockets(chat_app& app, const request& req, reply_ptr r) {
  selection sel;
  if (auto err = select_from_query(app, req, sel))
    return r->send(error_response(400, *err));
  sel.sockets(app).fetch_sockets([r](std::vector<sio::remote_socket> found) {
    std::sort(found.begin(), found.end(), [](auto& a, auto& b) { return a.id < b.id; });
    json::array out;
    for (auto& s : found)
      out.push_back(socket_json(s));
    r->send(json_response(200, json::object{{"sockets", std::move(out)}}));
  });
}

// POST /api/sockets/{join,leave,disconnect}
void update_sockets(chat_app& app, const std::string& verb, const request& req, reply_ptr r) {
  auto body = sio::socketio::parse_json(req.body);
  if (!body || !body->is_object())
    return r->send(error_response(400, "The body must be a JSON object"));
  auto& o = body->as_object();
  selection sel;
  if (auto err = select_from_body(app, o, sel))
    return r->send(error_response(400, *err));
  auto answer = [r](std::size_t n) { r->send(json_response(200, json::object{{"status", "ok"}, {"sockets", n}})); };
  if (verb == "disconnect") {
    auto* close = o.if_contains("close");
    if (close && !close->is_bool())
      return r->send(error_response(400, "close must be a boolean"));
    return sel.sockets(app).disconnect_sockets(close && close->as_bool(), answer);
  }
  std::vector<std::string> rooms;
  auto err = rooms_field(o, verb, rooms);
  if (err || rooms.empty())
    return r->send(error_response(400, err.value_or(verb + " is required")));
  if (verb == "join")
    sel.sockets(app).sockets_join(std::move(rooms), answer);
  else
    sel.sockets(app).sockets_leave(std::move(rooms), answer);
}

json::object node_stats(chat_app& app) {
  auto uptime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - app.started);
  return json::object{
      {"node", sio::node_name(*app.io.core())}, {"connections", app.io.connection_count()}, {"uptime", uptime.count()}};
}

// This node's figures, and every other node's that answered in time (server_side_emit).
void list_nodes(chat_app& app, reply_ptr r) {
  auto self = node_stats(app);
  app.io.server_side_emit(
      app.opts.platform_namespace, node_stats_event, {},
      [r, self](std::vector<sio::server_side_answer> answers) {
        json::array nodes{self};
        for (auto& a : answers)
          if (!a.args.args.empty() && a.args.args.front().is_object())
            nodes.push_back(a.args.args.front());
        std::sort(nodes.begin(), nodes.end(), [](const json::value& a, const json::value& b) {
          return a.as_object().at("node").as_string() < b.as_object().at("node").as_string();
        });
        r->send(json_response(200, json::object{{"nodes", std::move(nodes)}}));
      },
      nodes_timeout);
}

} // namespace

void mount_sockets_api(chat_app& app) {
  app.io.on_server_side(app.opts.platform_namespace, node_stats_event,
                        [&app](sio::message&, const sio::ack_responder& ack) { ack({node_stats(app)}); });
  app.io.route("GET", "/api/sockets", [&app](const request& req, reply_ptr r) {
    if (api_key_ok(app, req, r))
      list_sockets(app, req, r);
  });
  app.io.route("POST", "/api/sockets/*", [&app](const request& req, reply_ptr r) {
    if (!api_key_ok(app, req, r))
      return;
    auto verb = req.path.substr(std::string_view("/api/sockets/").size());
    if (verb != "join" && verb != "leave" && verb != "disconnect")
      return r->send(error_response(404, "not found"));
    update_sockets(app, verb, req, r);
  });
  app.io.route("GET", "/api/nodes", [&app](const request& req, reply_ptr r) {
    if (api_key_ok(app, req, r))
      list_nodes(app, r);
  });
}

} // namespace chat
