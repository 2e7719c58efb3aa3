// chat-server: the Socket.IO server executable. Reads its configuration, starts the
// actor system and the HTTP front end, mounts the application, and stops cleanly on
// SIGINT/SIGTERM: stop accepting, close every session with "server shutting down",
// stop the I/O threads, then the actor system.
#include "actors/cluster_node.hpp"
#include "actors/console_messages.hpp"
#include "actors/forwarding_messages.hpp"
#include "actors/ids.hpp"
#include "actors/io_scheduler.hpp"
#include "actors/messages.hpp"
#include "actors/server.hpp"
#include "apps/chat-server/config.hpp"
#include "apps/chat-server/admin_ui.hpp"
#include "actors/persistence_actor.hpp"
#include "actors/remote_store.hpp"
#include "actors/store_service.hpp"
#include "apps/chat-server/chat_app.hpp"
#include "apps/chat-server/console_service.hpp"
#include "apps/chat-server/echo_app.hpp"
#include "apps/chat-server/logging.hpp"
#include "apps/chat-server/startup_report.hpp"
#include "persistence/mongo_store.hpp"
#include "persistence/sqlite_store.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>
#include <systemd/sd-daemon.h>

#include <condition_variable>
#include <iostream>
#include <mutex>

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

} // namespace

int main(int argc, char** argv) {
  int exit_code = 0;
  auto cfg = chat::parse_config(argc, argv, exit_code);
  if (!cfg)
    return exit_code;
  if (cfg->check_only) {
    std::cout << chat::startup_summary(*cfg, 0) << "\n";
    for (auto& risk : chat::risky_settings(*cfg))
      std::cout << "warning: " << risk << "\n";
    std::cout << "configuration is valid\n";
    return 0;
  }
  // Logs go to stderr; stdout carries only the "listening on" line.
  chat::setup_logging(cfg->log_format, cfg->log_level);

  caf::actor_system_config caf_cfg;
  sio::announce_message_types(caf_cfg);
  sio::announce_cluster_types(caf_cfg);
  sio::announce_forwarding_types(caf_cfg);
  sio::announce_console_types(caf_cfg);
  if (cfg->clustered || cfg->admin_console)
    caf_cfg.load<caf::io::middleman>();
  if (cfg->clustered) {
    // Session and socket ids carry the node's number: any member can tell whose they are.
    sio::set_node_id(sio::node_number(cfg->cluster.node_name));
    if (!cfg->cluster.tls_cert.empty()) {
      caf_cfg.load<caf::openssl::manager>();
      caf_cfg.set("openssl.certificate", cfg->cluster.tls_cert);
      caf_cfg.set("openssl.key", cfg->cluster.tls_key);
      // Peers must present a certificate this one verifies (the cluster's own CA or
      // a shared self-signed certificate).
      caf_cfg.set("openssl.cafile", cfg->cluster.tls_cert);
    }
  }
  chat::announce_persistence_types(caf_cfg);
  chat::announce_chat_state_types(caf_cfg);
  caf_cfg.set("scheduler.max-threads", cfg->actor_threads);
  if (cfg->actor_scheduler == "io") {
    // Actors run on the I/O threads: no thread hand-off between a socket and its actor
    // (see actors/io_scheduler.hpp).
    caf_cfg.load<sio::io_scheduler>();
  } else {
    // CAF's work-stealing workers poll (sleeping 50 us, then 10 ms) while idle: CPU spent
    // on nothing and up to 10 ms before a quiet server notices a message. Sharing workers
    // block on a condition variable and wake at once.
    caf_cfg.set("scheduler.policy", cfg->actor_scheduler == "stealing" ? caf::atom("stealing") : caf::atom("sharing"));
  }
  caf::actor_system system{caf_cfg};

  auto started = std::chrono::steady_clock::now();
  auto engine_opts = cfg->engine;
  if (cfg->app == "echo")
    engine_opts.raw_engine_path = "/engine.io/";
  sio::server io(system, engine_opts);
  caf::actor cluster;
  if (cfg->clustered) {
    // Before any namespace actor exists: each one tells the node of its rooms.
    cluster = sio::spawn_cluster_node(system, io.core(), cfg->cluster);
    io.join_cluster(cluster);
    io.set_node_name(cfg->cluster.node_name);
  }

  // Before the apps' routes: the first route that matches answers.
  if (cfg->metrics)
    io.serve_metrics();
  caf::actor persistence;
  std::shared_ptr<chat::chat_app> chat_app;
  if (cfg->app == "chat" && cfg->store == chat::store_kind::cluster) {
    // No database here: the store is the member's that offers one (actors/remote_store.hpp).
    persistence = chat::spawn_remote_store(system, cluster);
    if (cfg->engine.recovery.enabled)
      io.set_recovery_store(persistence); // the store node's keeps recovery too
  } else if (cfg->app == "chat") {
    std::unique_ptr<chat::persistence::store> store;
    try {
      if (cfg->store == chat::store_kind::mongodb) {
        chat::persistence::mongo_options mongo;
        mongo.uri = cfg->mongodb_uri;
        store = std::make_unique<chat::persistence::mongo_store>(mongo);
      } else {
        chat::persistence::sqlite_options db;
        db.path = cfg->db_path;
        store = std::make_unique<chat::persistence::sqlite_store>(db);
      }
    } catch (const std::exception& e) {
      std::cerr << "chat-server: cannot open the database "
                << (cfg->store == chat::store_kind::mongodb ? chat::redacted_uri(cfg->mongodb_uri) : cfg->db_path)
                << ": " << e.what() << "\n";
      return 1;
    }
    chat::persistence_options popts;
    popts.max_batch = cfg->batch_size;
    popts.max_delay = std::chrono::milliseconds(cfg->batch_delay_ms);
    popts.recovery = cfg->engine.recovery;
    persistence = chat::spawn_persistence(system, std::move(store), popts);
    // Connection state recovery in the store: across restarts, and on every node that
    // reaches it.
    if (cfg->engine.recovery.enabled)
      io.set_recovery_store(persistence);
    // Connections left open by a crash are closed in the store before anyone connects:
    // in a cluster only this node's own (the members' are still open; a member that
    // dies has its own closed by offer_store's watcher).
    caf::anon_send(persistence, chat::close_open_connections{0, cluster ? sio::id_prefix(sio::node_id()) : ""});
    // With SQLite the members reach the store through this node (before start_atom:
    // offered on join); with MongoDB every node reaches the database by itself.
    if (cluster && cfg->store == chat::store_kind::mongodb)
      chat::close_connections_of_gone_members(system, cluster, persistence);
    else if (cluster)
      chat::offer_store(system, cluster, persistence);
  }
  // After the store took over connection state recovery (set_recovery_store): the Admin
  // UI's feed makes its namespace actor, which takes the recovery handle of the moment.
  caf::actor admin_ui;
  if (cfg->admin_ui.enabled)
    admin_ui = chat::mount_admin_ui(io, system, cfg->admin_ui, cfg->clustered ? cfg->cluster.node_name : std::string());
  if (cfg->app == "chat") {
    try {
      chat_app = chat::mount_chat_app(io, system, persistence, cfg->chat);
    } catch (const sio::handler_conflict& e) {
      std::cerr << "chat-server: " << e.what()
                << ": mount these modules on different namespaces (docs/chat-protocol.md, Modules and namespaces)\n";
      caf::anon_send_exit(persistence, caf::exit_reason::user_shutdown);
      return 2;
    }
  } else {
    chat::mount_echo_app(io);
    io.route("GET", "/health", [&io, started](const sio::http::request&, sio::http::reply_ptr r) {
      boost::json::object body{{"status", io.draining() ? "draining" : "ok"},
                               {"uptime", static_cast<std::int64_t>(seconds_since(started))},
                               {"connections", io.connection_count()}};
      r->send(sio::http::response::json(io.draining() ? 503 : 200, boost::json::serialize(body)));
    });
  }

  // Every node of a cluster runs the console service (a console reaching any node sees
  // all); it is published for consoles only where --admin-listen says.
  caf::actor console;
  if (cfg->clustered || cfg->admin_console)
    console = chat::spawn_console_service(std::make_shared<chat::console_context>(chat::console_context{
        system, io, cfg->chat.admin_token, cfg->clustered ? cfg->cluster.node_name : std::string(), started}));

  sio::http::server front(cfg->http, io.handler());
  std::mutex m;
  std::condition_variable cv;
  bool stop = false;
  front.on_signal([&](int sig) {
    spdlog::info("signal {}: shutting down", sig);
    std::lock_guard<std::mutex> guard(m);
    stop = true;
    cv.notify_all();
  });
  std::uint16_t port = 0;
  try {
    port = front.start();
  } catch (const std::exception& e) {
    std::cerr << "chat-server: cannot listen on " << cfg->http.host << ":" << cfg->http.port << ": " << e.what()
              << "\n";
    return 1;
  }
  if (auto* sched = sio::io_scheduler::of(system))
    sched->attach(front.io_context());
  std::cout << "listening on " << (front.tls() ? "https://" : "http://") << cfg->http.host << ":" << port << std::endl;
  spdlog::info("{}", chat::startup_summary(*cfg, port));
  for (auto& risk : chat::risky_settings(*cfg))
    spdlog::warn("{}", risk);
  spdlog::info("actors on {}", cfg->actor_scheduler == "io"
                                   ? "the I/O threads"
                                   : std::to_string(cfg->actor_threads) + " " + cfg->actor_scheduler + " workers");
  if (cluster) {
    caf::scoped_actor self{system};
    bool ok = false;
    self->request(cluster, std::chrono::seconds(10), sio::start_atom::value)
        .receive(
            [&](std::uint16_t cluster_port) {
              ok = true;
              std::cout << "cluster node " << cfg->cluster.node_name << " on " << cfg->cluster.listen_host << ":"
                        << cluster_port << std::endl;
            },
            [&](caf::error& err) {
              std::cerr << "chat-server: cannot publish the cluster node on " << cfg->cluster.listen_host << ":"
                        << cfg->cluster.listen_port << ": " << system.render(err) << "\n";
            });
    if (!ok) {
      caf::anon_send_exit(cluster, caf::exit_reason::user_shutdown);
      front.stop();
      return 1;
    }
  }
  if (cfg->admin_console) {
    auto bound = chat::publish_console(system, console, cfg->admin_host, cfg->admin_port);
    if (!bound) {
      std::cerr << "chat-server: cannot publish the admin console on " << cfg->admin_host << ":" << cfg->admin_port
                << ": " << system.render(bound.error()) << "\n";
      front.stop();
      return 1;
    }
    std::cout << "admin console on " << cfg->admin_host << ":" << *bound << std::endl;
  }
  // The derived cap depends on `ulimit -n`: say what it came to (0: none).
  spdlog::info("at most {} connections, {} per client address", cfg->http.max_connections,
               cfg->http.max_connections_per_address);
  // systemd's Type=notify: serving now (a no-op unless started by systemd).
  sd_notify(0, "READY=1");

  {
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return stop; });
  }
  sd_notify(0, "STOPPING=1");
  if (cluster) {
    // The members forget this node now rather than after the failure timeout.
    caf::scoped_actor self{system};
    self->request(cluster, std::chrono::seconds(1), sio::leave_atom::value)
        .receive([](caf::ok_atom) {}, [](caf::error&) {});
  }
  if (chat_app) {
    // Everyone hears it first; then the sessions close.
    chat::announce_shutdown(*chat_app);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  // The listener stays open while sessions close: polling clients fetch their last
  // packets (and the close packet) with new requests. New sessions are refused.
  io.shutdown(std::chrono::seconds(2));
  front.stop_accepting();
  if (chat_app) // the last_seen of the users the shutdown disconnected
    chat::await_presence_writes(*chat_app, system, std::chrono::seconds(2));
  if (persistence) {
    // Everything queued is committed before the process exits.
    caf::scoped_actor self{system};
    self->request(persistence, chat::persistence_timeout, chat::shutdown_atom::value)
        .receive([](caf::ok_atom) {},
                 [](caf::error& err) { spdlog::error("final store flush failed: {}", caf::to_string(err)); });
  }
  // Give the last writes (close frames, the final polling answers) a moment on the wire.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // Actors move back to the scheduler's own thread before the I/O threads stop.
  if (auto* sched = sio::io_scheduler::of(system))
    sched->detach(std::chrono::seconds(2));
  front.stop();
  if (cluster) {
    // The services offered to members end first (CAF keeps exported actors alive), then
    // the node; actors still held by members' proxies are not waited for.
    caf::scoped_actor self{system};
    self->request(cluster, std::chrono::seconds(3), sio::shutdown_atom::value)
        .receive([](caf::ok_atom) {},
                 [](caf::error& err) { spdlog::warn("cluster node stop: {}", caf::to_string(err)); });
    caf::anon_send_exit(cluster, caf::exit_reason::user_shutdown);
    system.await_actors_before_shutdown(false);
  }
  if (admin_ui)
    caf::anon_send_exit(admin_ui, caf::exit_reason::user_shutdown);
  if (console) {
    // The console service (and its tails) end; consoles connected to it see it go.
    caf::anon_send_exit(console, caf::exit_reason::user_shutdown);
    if (!cluster)
      system.await_actors_before_shutdown(false);
  }
  spdlog::info("stopped");
  return 0;
}
