// Seed 001's `/notifications` namespace (docs/chat-protocol.md §10): module
// "notifications". Clients only listen; the backend reaches them through POST /api/emit
// with this namespace, the whole of it or one user's sockets (`userId`).
#include "apps/chat-server/chat_internal.hpp"

namespace chat {

void mount_notifications(chat_app& app) {
  if (app.opts.notifications_namespace.empty())
    return;
  // on_identity puts a socket with a user id in its room `private-user.{userId}`.
  app.io.of(app.opts.notifications_namespace).module("notifications").on_connection(with_app(app, on_identity));
}

} // namespace chat
