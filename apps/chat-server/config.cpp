#include "apps/chat-server/config.hpp"

#include "persistence/mongo_store.hpp"
#include "transport/http/tls_context.hpp"
#include "transport/http/trusted_proxies.hpp"

#include <boost/program_options.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <cctype>
#include <iostream>
#include <stdexcept>
#include <thread>

namespace chat {

namespace po = boost::program_options;

namespace {

/// The open-file limit less a reserve for what is not a client connection (the store's
/// files, the listening socket, Asio's and CAF's descriptors, refusals being answered),
/// so that the cap is reached before accept runs out of descriptors.
std::size_t default_max_connections() {
  constexpr rlim_t reserve = 64;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
    return 0;
  return static_cast<std::size_t>(limit.rlim_cur > 2 * reserve ? limit.rlim_cur - reserve : limit.rlim_cur / 2);
}

/// The setting as it may be printed: its secret (the third ':' field) masked.
std::string masked(const std::string& spec) {
  auto first = spec.find(':');
  auto second = first == std::string::npos ? first : spec.find(':', first + 1);
  if (second == std::string::npos)
    return spec;
  auto end = spec.find_first_of(":;", second + 1);
  return spec.substr(0, second + 1) + "<secret>" + (end == std::string::npos ? "" : spec.substr(end));
}

/// Each pusher-app setting parsed; ids and keys unique. Prints the offending one.
std::optional<std::vector<pusher::app>> parse_pusher_apps(const std::vector<std::string>& specs) {
  std::vector<pusher::app> apps;
  for (auto& spec : specs) {
    std::string error;
    auto a = pusher::parse_app(spec, error);
    if (!a) {
      std::cerr << "chat-server: pusher-app " << masked(spec) << ": " << error << "\n";
      return std::nullopt;
    }
    for (auto& other : apps) {
      if (other.id == a->id || other.key == a->key) {
        std::cerr << "chat-server: pusher-app " << masked(spec) << ": "
                  << (other.id == a->id ? "app id '" + a->id + "'" : "app key '" + a->key + "'") << " is given twice\n";
        return std::nullopt;
      }
    }
    apps.push_back(std::move(*a));
  }
  return apps;
}

/// "HOST:PORT" (an IPv6 host in brackets); nothing when malformed.
std::optional<std::pair<std::string, std::uint16_t>> host_port(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return std::nullopt;
  auto host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  auto digits = text.substr(colon + 1);
  if (digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  auto port = std::stoul(digits);
  if (port > 65535)
    return std::nullopt;
  return std::make_pair(host, static_cast<std::uint16_t>(port));
}

std::string default_node_name(unsigned port) {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0)
    host[0] = 0;
  return std::string(host[0] ? host : "node") + ":" + (port ? std::to_string(port) : std::to_string(getpid()));
}

/// The cluster settings into `c`; false (after saying which setting) when one is wrong.
bool parse_cluster(config& c, const std::string& listen, const std::vector<std::string>& seeds,
                   unsigned long failure_timeout, unsigned port) {
  auto& cl = c.cluster;
  if (listen.empty()) {
    if (!seeds.empty()) {
      std::cerr << "chat-server: cluster-seeds needs cluster-listen (a node must be reachable by the others)\n";
      return false;
    }
    return true;
  }
  auto where = host_port(listen);
  if (!where) {
    std::cerr << "chat-server: cluster-listen must be HOST:PORT, not '" << listen << "'\n";
    return false;
  }
  c.clustered = true;
  cl.listen_host = where->first;
  cl.listen_port = where->second;
  for (auto& list : seeds) {
    std::size_t start = 0;
    while (start <= list.size()) {
      auto comma = list.find(',', start);
      auto item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      start = comma == std::string::npos ? list.size() + 1 : comma + 1;
      if (item.empty())
        continue;
      auto seed = host_port(item);
      if (!seed || seed->second == 0) {
        std::cerr << "chat-server: cluster-seeds must be HOST:PORT,..., not '" << item << "'\n";
        return false;
      }
      cl.seeds.push_back(*seed);
    }
  }
  if (cl.tls_cert.empty() != cl.tls_key.empty()) {
    std::cerr << "chat-server: cluster-tls-cert and cluster-tls-key go together\n";
    return false;
  }
  if (failure_timeout < 200) {
    std::cerr << "chat-server: cluster-failure-timeout must be at least 200 ms\n";
    return false;
  }
  cl.failure_timeout = std::chrono::milliseconds(failure_timeout);
  if (cl.node_name.empty())
    cl.node_name = default_node_name(port);
  return true;
}

/// More threads than this is a typo, not a configuration.
constexpr std::size_t max_threads = 1024;

bool known_log_level(const std::string& level) {
  for (const char* name : {"trace", "debug", "info", "warn", "error", "critical", "off"})
    if (level == name)
      return true;
  return false;
}

/// Stores `parsed` into `vm`, refusing a negative number first: no setting takes one,
/// and Boost reads "-5" into an unsigned setting as 2^64 - 5.
void store_checked(const po::parsed_options& parsed, po::variables_map& vm) {
  for (auto& opt : parsed.options)
    for (auto& text : opt.value)
      if (text.size() > 1 && text[0] == '-' && std::isdigit(static_cast<unsigned char>(text[1])))
        throw std::invalid_argument("the argument ('" + text + "') for option '--" + opt.string_key +
                                    "' is negative: no setting takes a negative number");
  po::store(parsed, vm);
}

} // namespace

std::optional<store_kind> parse_store(const std::string& value) {
  if (value == "sqlite")
    return store_kind::sqlite;
  if (value == "cluster")
    return store_kind::cluster;
  if (persistence::mongo_store::is_uri(value))
    return store_kind::mongodb;
  return std::nullopt;
}

std::string redacted_uri(const std::string& uri) {
  auto scheme = uri.find("://");
  if (scheme == std::string::npos)
    return uri;
  auto hosts = scheme + 3;
  auto at = uri.rfind('@', uri.find('/', hosts));
  if (at == std::string::npos || at < hosts)
    return uri;
  return uri.substr(0, hosts) + "***" + uri.substr(at);
}

namespace {

/// Where an installed binary's file is (`share/chat-server/NAME` next to the binary's
/// `bin/`, see the install rules in CMakeLists.txt), or `in_source` when the binary runs
/// from a build tree (nothing installed beside it).
std::string installed_or(const std::string& name, const std::string& in_source) {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec)
    return in_source;
  auto installed = exe.parent_path().parent_path() / SIO_INSTALL_DATADIR / name;
  return std::filesystem::exists(installed, ec) ? installed.string() : in_source;
}

} // namespace

std::optional<config> parse_config(int argc, char** argv, int& exit_code) {
  config c;
  std::string config_file;
  std::vector<std::string> cors_origins;
  std::vector<std::string> pusher_apps;
  unsigned long ping_interval = 25000, ping_timeout = 20000, upgrade_timeout = 10000, connect_timeout = 45000;
  unsigned port = 3001;
  std::size_t io_threads = 0;
  long write_delay_us = 1000;
  long long rate_limit_per_address = -1; // -1: 20 x rate-limit
  unsigned long header_timeout = 10000, keep_alive_timeout = 65000;
  long long max_connections = -1; // -1: derived from the open-file limit
  std::string store = "sqlite";
  std::string cluster_listen;
  std::vector<std::string> cluster_seeds;
  unsigned long cluster_failure_timeout = 5000;
  std::string admin_listen;
  std::string parser = "default";
  std::int64_t recovery_max_disconnection_ms = 120000;

  // clang-format off
  po::options_description general("chat-server options");
  general.add_options()
    ("help,h", "print this help and exit")
    ("version", "print the version and exit")
    ("check-config", "validate the configuration (flags, environment, config file) and exit: 0 when it is valid")
    ("config,c", po::value(&config_file), "config file (key = value lines, same names as the flags)");
  po::options_description settings("settings (flag, config key, or environment CHAT_<NAME> with - as _)");
  settings.add_options()
    ("app", po::value(&c.app)->default_value("chat"), "application: chat (docs/chat-protocol.md), or echo (the protocol test fixture)")
    ("host", po::value(&c.http.host)->default_value("127.0.0.1"), "address to listen on")
    ("port", po::value(&port)->default_value(3001), "port to listen on (0 picks a free one)")
    ("path", po::value(&c.engine.path)->default_value("/socket.io/"), "Engine.IO path")
    ("ping-interval", po::value(&ping_interval)->default_value(25000), "heartbeat interval, ms")
    ("ping-timeout", po::value(&ping_timeout)->default_value(20000), "heartbeat timeout, ms")
    ("upgrade-timeout", po::value(&upgrade_timeout)->default_value(10000), "polling to WebSocket upgrade timeout, ms")
    ("connect-timeout", po::value(&connect_timeout)->default_value(45000), "time to send a Socket.IO CONNECT, ms")
    ("max-http-buffer-size", po::value(&c.engine.max_http_buffer_size)->default_value(1000000),
     "largest message or polling body, bytes")
    ("max-queue-bytes", po::value(&c.engine.max_queue_bytes)->default_value(8 * 1024 * 1024),
     "outgoing bytes queued for one client before it is disconnected")
    ("header-timeout", po::value(&header_timeout)->default_value(10000),
     "time to send a request's headers (from accept, or from a keep-alive request's first byte), ms; past it 408")
    ("keep-alive-timeout", po::value(&keep_alive_timeout)->default_value(65000),
     "how long an HTTP connection may wait idle for its next request, ms")
    ("max-connections", po::value(&max_connections),
     "TCP connections held at once; past it new ones are answered 503 (default: the open-file limit minus 64; 0: "
     "no cap)")
    ("max-connections-per-address", po::value(&c.http.max_connections_per_address)->default_value(1024),
     "TCP connections from one client address (IPv6: one /64) at once; past it new ones are answered 429 (0: no "
     "cap)")
    ("cors-origin", po::value(&cors_origins)->composing(), "allowed CORS origin (repeat; * for any)")
    ("cors-credentials", po::value(&c.engine.cors.credentials)->default_value(false), "allow credentials (true/false)")
    ("io-threads", po::value(&io_threads)->default_value(0), "I/O threads (0: one per core)")
    ("write-delay-us", po::value(&write_delay_us)->default_value(1000),
     "how long a broadcast's WebSocket writes wait for more frames to the same clients, microseconds")
    ("per-message-deflate", po::value(&c.http.per_message_deflate)->default_value(false),
     "WebSocket permessage-deflate for clients that offer it (true/false; socket.io's perMessageDeflate)")
    ("per-message-deflate-threshold", po::value(&c.http.per_message_deflate_threshold)->default_value(1024),
     "WebSocket messages of at least this many bytes are sent compressed")
    ("http-compression", po::value(&c.http.http_compression)->default_value(true),
     "gzip or deflate polling responses for clients that accept it (true/false; engine.io's httpCompression)")
    ("http-compression-threshold", po::value(&c.http.http_compression_threshold)->default_value(1024),
     "polling responses of at least this many bytes are compressed")
    ("trusted-proxy", po::value(&c.http.trusted_proxies)->composing(),
     "address or CIDR range of a proxy whose X-Forwarded-For names the client (repeat); none: the peer's address")
    ("parser", po::value(&parser)->default_value("default"),
     "Socket.IO packet format: default (text, with binary attachments) or msgpack (socket.io-msgpack-parser; "
     "every client must use it; Engine.IO v3 clients are then refused)")
    ("connection-state-recovery", po::value(&c.engine.recovery.enabled)->default_value(false),
     "socket.io's connectionStateRecovery: a client that lost its connection comes back with the same socket id, "
     "rooms and data, and gets the events it missed (every event then carries an offset as its last argument)")
    ("recovery-max-disconnection-ms", po::value(&recovery_max_disconnection_ms)->default_value(120000),
     "how long after a disconnect a socket may be recovered (and its missed events are kept), ms")
    ("recovery-skip-middlewares", po::value(&c.engine.recovery.skip_middlewares)->default_value(true),
     "a recovered socket skips the namespace's middlewares (it proved itself when it first connected)")
    ("tls-cert", po::value(&c.http.tls_cert),
     "PEM certificate chain: with tls-key, the port serves https:// and wss:// only (TLS 1.2+; SIGHUP reloads both)")
    ("tls-key", po::value(&c.http.tls_key), "PEM private key of tls-cert")
    ("actor-threads", po::value(&c.actor_threads)->default_value(0),
     "CAF worker threads for --actor-scheduler sharing/stealing (0: one per core)")
    ("actor-scheduler", po::value(&c.actor_scheduler)->default_value("io"),
     "where actors run: io (on the I/O threads), sharing (CAF workers that block when idle) or stealing "
     "(CAF workers that poll)")
    ("log-level", po::value(&c.log_level)->default_value("info"),
     "trace, debug (a line per connect, event and disconnect), info, warn, error, critical, off")
    ("log-format", po::value(&c.log_format)->default_value("text"), "text, or json (one JSON object per line)")
    ("metrics", po::value(&c.metrics)->default_value(true), "serve GET /metrics in Prometheus text format (true/false)")
    ("admin-listen", po::value(&admin_listen),
     "HOST:PORT where the admin console (chat-admin) connects (CAF networking; needs admin-token); unset: no console")
    ("admin-ui", po::value(&c.admin_ui.enabled)->default_value(false),
     "socket.io's Admin UI: its namespace (admin-ui-namespace) and its page at /admin-ui/ (true/false; needs "
     "admin-ui-password-hash)")
    ("admin-ui-namespace", po::value(&c.admin_ui.nsp)->default_value("/socket-admin"),
     "namespace the Admin UI connects to")
    ("admin-ui-username", po::value(&c.admin_ui.username)->default_value("admin"), "the Admin UI's user name")
    ("admin-ui-password-hash", po::value(&c.admin_ui.password_hash),
     "bcrypt hash of the Admin UI's password ($2a$/$2b$/$2y$, e.g. from htpasswd -nbBC 10 admin PASSWORD)")
    ("admin-ui-readonly", po::value(&c.admin_ui.readonly)->default_value(false),
     "the Admin UI may look but not emit, join, leave or disconnect (true/false)")
    ("admin-ui-mode", po::value(&c.admin_ui.mode)->default_value("development"),
     "development (sockets, rooms, clients and events pages) or production (dashboard and servers only; nothing "
     "streamed per socket)")
    ("admin-ui-bundle", po::value(&c.admin_ui.bundle_dir)->default_value(installed_or("admin-ui", SIO_DEFAULT_ADMIN_UI_BUNDLE)),
     "folder of the Admin UI's page (@socket.io/admin-ui's ui/dist), served at /admin-ui/")
    ("max-rooms-per-socket", po::value(&c.engine.max_rooms_per_socket)->default_value(1000),
     "rooms one socket may be in, its own id room included; a join past it is refused")
    ("max-pending-sessions-per-address", po::value(&c.engine.max_pending_sessions_per_address)->default_value(256),
     "sessions without a Socket.IO CONNECT yet from one client address; a handshake past it gets 403 (0: no limit)")
    ("max-pending-sessions", po::value(&c.engine.max_pending_sessions)->default_value(5000),
     "sessions without a Socket.IO CONNECT yet over all addresses; a handshake past it gets 403 (0: no limit)")
    ("max-attachments", po::value(&c.engine.max_attachments)->default_value(64),
     "binary attachments one Socket.IO packet may announce; more closes the connection (parse error)")
    ("max-attachment-bytes", po::value(&c.engine.max_attachment_bytes)->default_value(8 * 1024 * 1024),
     "bytes of binary attachments one connection may hold for a packet not complete yet; more closes it (0: no limit)")
    ("max-attachment-bytes-total", po::value(&c.engine.max_attachment_bytes_total)->default_value(256 * 1024 * 1024),
     "bytes of binary attachments held for incomplete packets over all connections; the connection whose attachment "
     "passes it is closed (0: no limit)")
    ("max-namespaces-per-connection", po::value(&c.engine.max_namespaces_per_connection)->default_value(32),
     "namespaces one connection may join; a CONNECT past it gets CONNECT_ERROR 'Too many namespaces'")
    ("allow-eio3", po::value(&c.engine.allow_eio3)->default_value(true),
     "serve Engine.IO v3 / Socket.IO v2 clients (ElephantIO Version2X, socket.io-client 2.x)")
    ("store", po::value(&store)->default_value("sqlite"),
     "where conversations are stored: sqlite (this node's --db), mongodb://HOST:PORT/DB[?options] (a MongoDB "
     "database; write concern majority + journaled unless the URI sets w or journal; every node of a cluster may "
     "use the same one), or cluster (no database here: the store of the member that runs --store sqlite, offered "
     "over the cluster link)")
    ("db", po::value(&c.db_path)->default_value("data/chat.db"), "SQLite database file (created, WAL)")
    ("batch-size", po::value(&c.batch_size)->default_value(512), "store writes committed together at most")
    ("batch-delay-ms", po::value(&c.batch_delay_ms)->default_value(2), "longest wait before a partial batch commits, ms")
    ("platform-namespace", po::value(&c.chat.platform_namespace)->default_value("/"), "namespace of the platform events")
    ("conversations-namespace", po::value(&c.chat.conversations_namespace)->default_value("/"),
     "namespace of conversations, presence and private rooms")
    ("room-chat-namespace", po::value(&c.chat.room_chat_namespace)->default_value("/chat"), "namespace of the room chat")
    ("admin-namespace", po::value(&c.chat.admin_namespace)->default_value("/admin"), "namespace of the admin broadcast")
    ("basic-chat-namespace", po::value(&c.chat.basic_chat_namespace)->default_value("/"),
     "namespace of seed 003's io() chat: message, join-room, room-message, leave-room, client-error (empty: off)")
    ("realtime-namespace", po::value(&c.chat.realtime_namespace)->default_value("/"),
     "namespace of seed 001's relays: message.sent, typing.started, typing.stopped, join-room (empty: off)")
    ("notifications-namespace", po::value(&c.chat.notifications_namespace)->default_value("/notifications"),
     "namespace seed 001's clients listen on for the backend's notifications (empty: off)")
    ("rate-limit", po::value(&c.chat.rate_limit_per_minute)->default_value(10),
     "messages a minute per user (send-message, sendMessage, HTTP posts together); per connection when identities "
     "are not verified")
    ("rate-limit-per-address", po::value(&rate_limit_per_address),
     "without jwt-secret: messages a minute from one client address over all its connections (default 20 x "
     "rate-limit; 0: no address limit)")
    ("jwt-secret", po::value(&c.chat.jwt_secret), "HS256 secret; when set, clients need auth.token")
    ("jwt-require-exp", po::value(&c.chat.jwt_require_exp)->default_value(true),
     "refuse JWTs without an exp claim (true/false)")
    ("open-conversations", po::value(&c.chat.open_conversations)->default_value(true),
     "with jwt-secret: joining a conversation the backend has not closed makes the user a participant "
     "(false: only participants the backend added, and those a private-chat.* or private-user.* name admits)")
    ("admin-token", po::value(&c.chat.admin_token), "credential for the admin namespace (auth.token)")
    ("api-key", po::value(&c.chat.api_key), "key for the backend HTTP API (X-API-Key header)")
    ("web-root", po::value(&c.chat.web_root)->default_value(installed_or("web", SIO_DEFAULT_WEB_ROOT)),
     "directory of the web chat page")
    ("client-bundle", po::value(&c.chat.client_bundle)->default_value(installed_or("socket.io.js", SIO_DEFAULT_CLIENT_BUNDLE)),
     "socket.io.js served at /socket.io/socket.io.js")
    ("pusher-app", po::value(&pusher_apps)->composing(),
     "a Pusher Channels app, ID:KEY:SECRET[;origins=A|B][;activity-timeout=SECONDS][;max-connections=N]"
     "[;namespace=/NSP] (repeat for more apps; the environment holds one)")
    ("pusher-status-channel", po::value(&c.chat.pusher_status_channel)->default_value("presence-users"),
     "the channel (room) that also gets user.status.changed, for Pusher subscribers; empty: none")
    ("node-id", po::value(&c.cluster.node_name),
     "this node's name in a cluster (default: host name:port); session ids carry it, so that any node can "
     "forward a session's requests to its own")
    ("cluster-listen", po::value(&cluster_listen),
     "HOST:PORT where this node's cluster actor is published (CAF networking); unset: no cluster")
    ("cluster-seeds", po::value(&cluster_seeds)->composing(),
     "HOST:PORT,... of members to join through (any one that answers; every node learns every member)")
    ("cluster-secret", po::value(&c.cluster.secret),
     "shared secret a node must prove it knows (HMAC challenge) to be admitted")
    ("cluster-tls-cert", po::value(&c.cluster.tls_cert),
     "PEM certificate: cluster links over TLS (libcaf_openssl), peers verified against it; with cluster-tls-key")
    ("cluster-tls-key", po::value(&c.cluster.tls_key), "PEM private key of cluster-tls-cert")
    ("cluster-failure-timeout", po::value(&cluster_failure_timeout)->default_value(5000),
     "a member silent this long (no heartbeat) is dead: its sockets leave every room and presence list, ms");
  // clang-format on

  po::options_description all;
  all.add(general).add(settings);
  po::variables_map vm;
  try {
    store_checked(po::parse_command_line(argc, argv, all), vm);
    store_checked(po::parse_environment(settings,
                                    [&](const std::string& env) -> std::string {
                                      if (env.rfind("CHAT_", 0) != 0)
                                        return {};
                                      std::string name = env.substr(5);
                                      for (auto& ch : name)
                                        ch = ch == '_' ? '-' : static_cast<char>(std::tolower(ch));
                                      return settings.find_nothrow(name, false) ? name : std::string{};
                                    }),
              vm);
    if (vm.count("config")) {
      std::ifstream in(vm["config"].as<std::string>());
      if (!in) {
        std::cerr << "chat-server: cannot read config file " << vm["config"].as<std::string>() << "\n";
        exit_code = 2;
        return std::nullopt;
      }
      store_checked(po::parse_config_file(in, settings), vm);
    }
    po::notify(vm);
  } catch (const std::exception& e) {
    // The one offending setting, not the whole help text.
    std::cerr << "chat-server: " << e.what() << " (chat-server --help lists the settings)\n";
    exit_code = 2;
    return std::nullopt;
  }
  if (vm.count("help")) {
    std::cout << "chat-server " << SIO_VERSION << ": a Socket.IO v4 server\n\n" << all << "\n";
    exit_code = 0;
    return std::nullopt;
  }
  if (vm.count("version")) {
    std::cout << "chat-server " << SIO_VERSION << "\n";
    exit_code = 0;
    return std::nullopt;
  }
  c.check_only = vm.count("check-config") > 0;
  if (!known_log_level(c.log_level)) {
    std::cerr << "chat-server: log-level must be trace, debug, info, warn, error, critical or off, not '"
              << c.log_level << "'\n";
    exit_code = 2;
    return std::nullopt;
  }
  if (c.log_format != "text" && c.log_format != "json") {
    std::cerr << "chat-server: log-format must be text or json, not '" << c.log_format << "'\n";
    exit_code = 2;
    return std::nullopt;
  }
  if (io_threads > max_threads || c.actor_threads > max_threads) {
    std::cerr << "chat-server: " << (io_threads > max_threads ? "io-threads" : "actor-threads") << " must be 0 (one per core) to "
              << max_threads << "\n";
    exit_code = 2;
    return std::nullopt;
  }
  if (c.app != "chat" && c.app != "echo") {
    std::cerr << "chat-server: app must be chat or echo, not '" << c.app << "'\n";
    exit_code = 2;
    return std::nullopt;
  }
  if (ping_interval < 1 || ping_timeout < 1 || upgrade_timeout < 1 || connect_timeout < 1) {
    std::cerr << "chat-server: ping-interval, ping-timeout, upgrade-timeout and connect-timeout must be at least 1 ms\n";
    exit_code = 2;
    return std::nullopt;
  }
  if (c.batch_size < 1 || c.chat.rate_limit_per_minute < 1) {
    std::cerr << "chat-server: batch-size and rate-limit must be at least 1\n";
    exit_code = 2;
    return std::nullopt;
  }
  if (rate_limit_per_address < -1 || (vm.count("rate-limit-per-address") && rate_limit_per_address < 0)) {
    std::cerr << "chat-server: rate-limit-per-address must be 0 or more\n";
    exit_code = 2;
    return std::nullopt;
  }
  c.chat.rate_limit_per_address =
      vm.count("rate-limit-per-address") ? rate_limit_per_address : 20LL * c.chat.rate_limit_per_minute;
  if (auto kind = parse_store(store)) {
    c.store = *kind;
    if (c.store == store_kind::mongodb) {
      if (auto why = persistence::mongo_store::check_uri(store)) {
        std::cerr << "chat-server: store: " << *why << "\n";
        exit_code = 2;
        return std::nullopt;
      }
      c.mongodb_uri = store;
    }
  } else {
    std::cerr << "chat-server: store must be sqlite, cluster or a mongodb:// connection string\n";
    exit_code = 2;
    return std::nullopt;
  }
  if (c.actor_scheduler != "io" && c.actor_scheduler != "sharing" && c.actor_scheduler != "stealing") {
    std::cerr << "chat-server: actor-scheduler must be io, sharing or stealing\n";
    exit_code = 2;
    return std::nullopt;
  }
  if (port > 65535) {
    std::cerr << "chat-server: port out of range\n";
    exit_code = 2;
    return std::nullopt;
  }
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  c.http.port = static_cast<std::uint16_t>(port);
  c.http.io_threads = io_threads ? io_threads : cores;
  c.http.max_body_bytes = c.engine.max_http_buffer_size;
  c.http.max_queue_bytes = c.engine.max_queue_bytes;
  c.http.write_delay = std::chrono::microseconds(write_delay_us);
  try {
    sio::http::trusted_proxies check(c.http.trusted_proxies);
  } catch (const std::invalid_argument& e) {
    std::cerr << "chat-server: trusted-proxy must be an address or a CIDR range, not '" << e.what() << "'\n";
    exit_code = 2;
    return std::nullopt;
  }
  if (parser != "default" && parser != "msgpack") {
    std::cerr << "chat-server: parser must be default or msgpack, not '" << parser << "'\n";
    exit_code = 2;
    return std::nullopt;
  }
  if (recovery_max_disconnection_ms < 1) {
    std::cerr << "chat-server: recovery-max-disconnection-ms must be 1 or more\n";
    exit_code = 2;
    return std::nullopt;
  }
  c.engine.recovery.max_disconnection = std::chrono::milliseconds(recovery_max_disconnection_ms);
  c.engine.msgpack_parser = parser == "msgpack";
  if (c.engine.msgpack_parser) {
    // socket.io-msgpack-parser speaks Socket.IO v5 only.
    if (vm.count("allow-eio3") && !vm["allow-eio3"].defaulted() && c.engine.allow_eio3) {
      std::cerr << "chat-server: allow-eio3 needs the default parser (socket.io-msgpack-parser is Socket.IO v5 only)\n";
      exit_code = 2;
      return std::nullopt;
    }
    c.engine.allow_eio3 = false;
  }
  if (c.http.tls_cert.empty() != c.http.tls_key.empty()) {
    std::cerr << "chat-server: tls-cert and tls-key go together (the certificate and its private key)\n";
    exit_code = 2;
    return std::nullopt;
  }
  if (!c.http.tls_cert.empty()) {
    try {
      sio::http::tls_context::load(c.http.tls_cert, c.http.tls_key);
    } catch (const std::exception& e) {
      std::cerr << "chat-server: " << e.what() << "\n";
      exit_code = 2;
      return std::nullopt;
    }
  }
  if (header_timeout < 1 || keep_alive_timeout < 1) {
    std::cerr << "chat-server: header-timeout and keep-alive-timeout must be at least 1 ms\n";
    exit_code = 2;
    return std::nullopt;
  }
  c.http.header_timeout = std::chrono::milliseconds(header_timeout);
  c.http.keep_alive_timeout = std::chrono::milliseconds(keep_alive_timeout);
  if (vm.count("max-connections") && max_connections < 0) {
    std::cerr << "chat-server: max-connections must be 0 or more\n";
    exit_code = 2;
    return std::nullopt;
  }
  c.http.max_connections =
      vm.count("max-connections") ? static_cast<std::size_t>(max_connections) : default_max_connections();
  c.engine.ping_interval = std::chrono::milliseconds(ping_interval);
  c.engine.ping_timeout = std::chrono::milliseconds(ping_timeout);
  c.engine.upgrade_timeout = std::chrono::milliseconds(upgrade_timeout);
  c.engine.connect_timeout = std::chrono::milliseconds(connect_timeout);
  c.engine.cors.origins = cors_origins;
  auto apps = parse_pusher_apps(pusher_apps);
  if (!apps) {
    exit_code = 2;
    return std::nullopt;
  }
  c.chat.pusher_apps = std::move(*apps);
  if (!parse_cluster(c, cluster_listen, cluster_seeds, cluster_failure_timeout, port)) {
    exit_code = 2;
    return std::nullopt;
  }
  if (c.store == store_kind::cluster && !c.clustered) {
    std::cerr << "chat-server: store cluster needs cluster-listen (the store is another member's)\n";
    exit_code = 2;
    return std::nullopt;
  }
  if (!admin_listen.empty()) {
    auto where = host_port(admin_listen);
    if (!where) {
      std::cerr << "chat-server: admin-listen must be HOST:PORT, not '" << admin_listen << "'\n";
      exit_code = 2;
      return std::nullopt;
    }
    if (c.chat.admin_token.empty()) {
      std::cerr << "chat-server: admin-listen needs admin-token (the console must present it)\n";
      exit_code = 2;
      return std::nullopt;
    }
    c.admin_host = where->first;
    c.admin_port = where->second;
    c.admin_console = true;
  }
  if (c.admin_ui.enabled) {
    auto problem = c.admin_ui.password_hash.empty() ? std::string("admin-ui needs admin-ui-password-hash")
                                                    : admin_ui_hash_problem(c.admin_ui.password_hash);
    if (problem.empty() && (c.admin_ui.nsp.size() < 2 || c.admin_ui.nsp[0] != '/'))
      problem = "admin-ui-namespace must be a namespace other than /, such as /socket-admin";
    if (problem.empty() && c.admin_ui.mode != "development" && c.admin_ui.mode != "production")
      problem = "admin-ui-mode must be development or production, not '" + c.admin_ui.mode + "'";
    if (!problem.empty()) {
      std::cerr << "chat-server: " << (problem.rfind("admin-ui", 0) == 0 ? "" : "admin-ui-password-hash: ")
                << problem << "\n";
      exit_code = 2;
      return std::nullopt;
    }
  }
  if (!c.actor_threads)
    c.actor_threads = cores;
  exit_code = 0;
  return c;
}

} // namespace chat
