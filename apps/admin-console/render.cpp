#include "apps/admin-console/render.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <ctime>
#include <iomanip>
#include <sstream>

namespace console {

namespace json = boost::json;

namespace {

std::string str(const json::value& v) {
  if (v.is_string())
    return std::string(v.as_string());
  return json::serialize(v);
}

std::string duration(std::int64_t secs) {
  std::ostringstream o;
  if (secs >= 86400)
    o << secs / 86400 << "d ";
  o << std::setfill('0') << std::setw(2) << (secs % 86400) / 3600 << ":" << std::setw(2) << (secs % 3600) / 60 << ":"
    << std::setw(2) << secs % 60;
  return o.str();
}

void status_text(const json::object& o, std::ostream& out) {
  auto& nodes = o.at("nodes").as_array();
  out << nodes.size() << (nodes.size() == 1 ? " node" : " nodes") << "\n";
  for (auto& nv : nodes) {
    auto& n = nv.as_object();
    auto name = str(n.at("node"));
    out << "node " << (name.empty() ? "(alone)" : name) << ": chat-server " << str(n.at("version")) << ", up "
        << duration(n.at("uptime_s").to_number<std::int64_t>()) << (n.at("draining").as_bool() ? ", DRAINING" : "")
        << "\n  connections:";
    std::int64_t total = 0;
    for (auto& [k, v] : n.at("connections").as_object()) {
      out << " " << std::string(k) << " " << str(v);
      total += v.to_number<std::int64_t>();
    }
    out << " (" << total << " in all)\n  namespaces:";
    if (n.at("namespaces").as_object().empty())
      out << " none yet";
    for (auto& [k, v] : n.at("namespaces").as_object())
      out << " " << std::string(k) << " " << str(v.at("sockets")) << " sockets " << str(v.at("rooms")) << " rooms;";
    auto& st = n.at("store").as_object();
    out << "\n  events received " << str(n.at("events_received")) << ", deliveries " << str(n.at("deliveries"))
        << "\n  store: queue " << str(st.at("queue")) << ", " << str(st.at("commits")) << " commits of "
        << str(st.at("writes")) << " writes, commit mean " << std::fixed << std::setprecision(2)
        << st.at("commit_ms_mean").to_number<double>() << " ms, p99 <= " << st.at("commit_ms_p99").to_number<double>()
        << " ms\n";
    out.unsetf(std::ios::fixed);
  }
}

void sockets_text(const json::array& sockets, std::ostream& out) {
  out << std::left << std::setw(22) << "ID" << std::setw(14) << "NAMESPACE" << std::setw(16) << "NODE" << std::setw(11)
      << "TRANSPORT" << std::setw(18) << "ADDRESS" << "ROOMS\n";
  for (auto& sv : sockets) {
    auto& s = sv.as_object();
    std::string rooms;
    for (auto& r : s.at("rooms").as_array())
      if (str(r) != str(s.at("id")))
        rooms += (rooms.empty() ? "" : ",") + str(r);
    out << std::setw(22) << str(s.at("id")) << std::setw(14) << str(s.at("nsp")) << std::setw(16) << str(s.at("node"))
        << std::setw(11) << str(s.at("transport")) << std::setw(18) << str(s.at("address")) << rooms << "\n";
  }
  out << std::right << sockets.size() << (sockets.size() == 1 ? " socket" : " sockets") << "\n";
}

} // namespace

void render(const std::vector<std::string>& words, const sio::console_answer& a, bool as_json, std::ostream& out,
            std::ostream& err) {
  if (as_json) {
    (a.status == sio::console_ok ? out : err) << a.json << std::endl;
    return;
  }
  boost::system::error_code ec;
  auto v = json::parse(a.json, ec);
  if (ec || !v.is_object()) {
    err << "error: unreadable answer: " << a.json << "\n";
    return;
  }
  auto& o = v.as_object();
  if (auto* e = o.if_contains("error")) {
    err << "error: " << str(*e) << "\n";
    return;
  }
  const auto& cmd = words.empty() ? std::string() : words[0];
  if (cmd == "status")
    return status_text(o, out);
  if (cmd == "nodes") {
    for (auto& n : o.at("nodes").as_array()) {
      auto name = str(n.at("name"));
      out << (n.at("self").as_bool() ? "* " : "  ") << (name.empty() ? "(alone: no cluster)" : name);
      if (!str(n.at("address")).empty())
        out << "  " << str(n.at("address"));
      out << "\n";
    }
    return;
  }
  if (cmd == "sockets")
    return sockets_text(o.at("sockets").as_array(), out);
  if (cmd == "rooms") {
    auto& rooms = o.at("rooms").as_array();
    out << std::left << std::setw(14) << "NAMESPACE" << std::setw(32) << "ROOM" << "MEMBERS\n";
    for (auto& r : rooms)
      out << std::setw(14) << str(r.at("nsp")) << std::setw(32) << str(r.at("room")) << str(r.at("members")) << "\n";
    out << std::right << rooms.size() << (rooms.size() == 1 ? " room" : " rooms") << "\n";
    return;
  }
  if (cmd == "socket") {
    auto& s = o.at("socket").as_object();
    for (const char* k : {"id", "nsp", "node", "transport", "address"})
      out << std::left << std::setw(11) << (std::string(k) + ":") << str(s.at(k)) << "\n";
    std::string rooms;
    for (auto& r : s.at("rooms").as_array())
      rooms += (rooms.empty() ? "" : ", ") + str(r);
    out << std::setw(11) << "rooms:" << rooms << "\n";
    out << std::setw(11) << "data:" << json::serialize(s.at("data")) << "\n";
    out << std::setw(11) << "handshake:" << json::serialize(s.at("handshake")) << std::right << "\n";
    return;
  }
  // Everything else: what was done, as key: value.
  for (auto& [k, val] : o)
    out << std::string(k) << ": " << str(val) << "\n";
}

std::string render_activity(const sio::activity& a, bool as_json) {
  if (as_json) {
    json::object o{{"at_ms", a.at_ms}, {"node", a.node}, {"kind", a.kind},     {"nsp", a.nsp},
                   {"socket", a.socket}, {"name", a.name}, {"detail", a.detail}, {"bytes", a.bytes}};
    return json::serialize(o);
  }
  std::time_t t = a.at_ms / 1000;
  std::tm local{};
  localtime_r(&t, &local);
  char stamp[16];
  std::strftime(stamp, sizeof stamp, "%H:%M:%S", &local);
  std::ostringstream o;
  o << stamp << "." << std::setfill('0') << std::setw(3) << a.at_ms % 1000 << std::setfill(' ') << " ";
  if (!a.node.empty())
    o << "[" << a.node << "] ";
  if (a.kind == "dropped") {
    o << "... " << a.bytes << " lines not shown (more than 1000 a second)";
    return o.str();
  }
  o << a.kind << " " << a.nsp << " " << a.socket;
  if (!a.name.empty())
    o << " " << a.name;
  if (a.kind == "event" || a.kind == "emit" || a.kind == "broadcast")
    o << " " << a.bytes << " B";
  if (a.kind == "connect") {
    // The detail is the socket as `socket SID` shows it: its address is what a line needs.
    boost::system::error_code ec;
    auto socket = json::parse(a.detail, ec);
    if (auto* s = socket.if_object(); !ec && s && s->if_contains("address"))
      o << " " << str(s->at("address"));
  } else if (a.kind != "disconnect" && !a.detail.empty()) { // a disconnect's detail is its rooms
    o << " " << a.detail;
  }
  return o.str();
}

std::string help_text(const std::vector<std::string>& words) {
  std::ostringstream o;
  for (auto& v : sio::console_verbs()) {
    if (words.size() > 1 && words[1] != v.name)
      continue;
    o << "  " << std::left << std::setw(30) << v.usage << v.help << "\n";
  }
  if (o.str().empty())
    return "no command '" + words[1] + "'\n";
  return o.str();
}

} // namespace console
