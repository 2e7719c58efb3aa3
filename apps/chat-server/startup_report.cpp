#include "apps/chat-server/startup_report.hpp"

#include <sstream>

namespace chat {

namespace {

bool loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

const char* on_off(bool v) {
  return v ? "on" : "off";
}

} // namespace

std::string startup_summary(const config& c, unsigned port) {
  std::ostringstream out;
  out << "chat-server " << SIO_VERSION << ": " << c.app << " app on " << c.http.host << ":"
      << (port ? port : c.http.port) << " (Engine.IO path " << c.engine.path << ", " << c.http.io_threads
      << " I/O threads)";
  if (c.app == "chat") {
    out << "; store ";
    if (c.store == store_kind::cluster)
      out << "cluster (the store node's)";
    else if (c.store == store_kind::mongodb)
      out << "mongodb " << redacted_uri(c.mongodb_uri) << " (batch " << c.batch_size << " / " << c.batch_delay_ms << " ms)";
    else
      out << "sqlite " << c.db_path << " (batch " << c.batch_size << " / " << c.batch_delay_ms << " ms)";
    out << "; auth: jwt " << on_off(!c.chat.jwt_secret.empty()) << ", admin-token " << on_off(!c.chat.admin_token.empty())
        << ", api-key " << on_off(!c.chat.api_key.empty()) << ", pusher apps " << c.chat.pusher_apps.size();
  }
  if (c.clustered)
    out << "; cluster: node " << c.cluster.node_name << " on " << c.cluster.listen_host << ":" << c.cluster.listen_port
        << ", " << c.cluster.seeds.size() << " seeds, secret " << on_off(!c.cluster.secret.empty()) << ", tls "
        << on_off(!c.cluster.tls_cert.empty());
  else
    out << "; no cluster";
  if (c.admin_console)
    out << "; admin console on " << c.admin_host << ":" << c.admin_port;
  if (c.admin_ui.enabled)
    out << "; admin UI at /admin-ui/ (namespace " << c.admin_ui.nsp << ", " << c.admin_ui.mode
        << (c.admin_ui.readonly ? ", read-only)" : ")");
  out << "; metrics " << (c.metrics ? "/metrics" : "off") << "; log " << c.log_level << " " << c.log_format;
  return out.str();
}

std::vector<std::string> risky_settings(const config& c) {
  std::vector<std::string> out;
  for (auto& origin : c.engine.cors.origins)
    if (origin == "*" && c.engine.cors.credentials)
      out.push_back("cors-origin * with cors-credentials: any web site can make credentialed requests; list the "
                    "origins");
  if (c.clustered && c.cluster.secret.empty())
    out.push_back("cluster: no cluster-secret: any process that reaches " + c.cluster.listen_host + ":" +
                  std::to_string(c.cluster.listen_port) + " can join");
  if (c.clustered && c.cluster.tls_cert.empty() && !loopback(c.cluster.listen_host))
    out.push_back("cluster-listen " + c.cluster.listen_host +
                  " is not a loopback address and the links are not encrypted: set cluster-tls-cert/-key");
  if (c.admin_console && !loopback(c.admin_host))
    out.push_back("admin-listen " + c.admin_host +
                  " is not a loopback address: the console port is reachable from the network (the token is its "
                  "only guard and crosses in clear)");
  if (!c.chat.admin_token.empty() && c.chat.admin_token.size() < 16)
    out.push_back("admin-token is shorter than 16 characters");
  if (c.http.max_connections == 0)
    out.push_back("max-connections 0: no cap on connections; the server can run out of file descriptors");
  if (c.app == "chat" && c.chat.jwt_secret.empty() && c.chat.rate_limit_per_address == 0)
    out.push_back("rate-limit-per-address 0 without jwt-secret: a client escapes the rate limit by reconnecting");
  if (c.log_level == "debug" || c.log_level == "trace")
    out.push_back("log-level " + c.log_level + ": a line per connect, event and disconnect; costly on a busy server");
  return out;
}

} // namespace chat
