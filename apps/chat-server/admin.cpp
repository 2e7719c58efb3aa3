// The admin namespace (docs/chat-protocol.md §3, seed 003): module "admin", open only to
// holders of the admin credential.
#include "apps/chat-server/chat_internal.hpp"

namespace chat {

namespace {

// `admin-broadcast` data: `admin-message` data to every client of the platform namespace.
void on_admin_broadcast(chat_app& app, sio::socket&, sio::message& m, const sio::ack_responder& ack) {
  app.io.in(app.opts.platform_namespace).emit("admin-message", m);
  ack({ok_status()});
}

} // namespace

void mount_admin(chat_app& app) {
  if (app.opts.admin_namespace.empty())
    return;
  app.io.of(app.opts.admin_namespace)
      .module("admin")
      .use([&app](sio::socket& s) { return authenticate(app, s, true); })
      .on("admin-broadcast", with_app(app, on_admin_broadcast));
}

} // namespace chat
