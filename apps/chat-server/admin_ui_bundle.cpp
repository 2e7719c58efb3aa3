// The Admin UI's own page (the npm package's ui/dist), served at /admin-ui/ so that nobody
// needs the hosted admin.socket.io. Its references are relative and its routes are in the
// URL's hash, so static files are all it takes, under a path that ends in '/'.
//
// The stock page asks for the server's address; index.html here first loads preset.js,
// which points the UI at the server that served it and at this server's admin namespace
// (in the localStorage keys the UI reads), unless the UI already has an address.
#include "apps/chat-server/admin_ui.hpp"
#include "apps/chat-server/static_files.hpp"

#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

namespace chat {

void serve_admin_ui_bundle(sio::server& io, const admin_ui_options& opts) {
  auto files = std::make_shared<static_files>();
  // Source maps (3.4 MB) are left out: nobody debugs the UI from here.
  if (!load_static_files(opts.bundle_dir, "/admin-ui/", true, *files, ".map")) {
    spdlog::warn("admin-ui: bundle {} not found: /admin-ui/ is not served (the namespace {} is)", opts.bundle_dir,
                 opts.nsp);
    return;
  }
  auto& index = (*files)["/admin-ui/index.html"];
  auto at = index.second.find("<script");
  if (at != std::string::npos)
    index.second.insert(at, "<script src=\"preset.js\"></script>");
  (*files)["/admin-ui/preset.js"] = {
      "application/javascript; charset=utf-8",
      "// Written by chat-server: the Admin UI connects to the server that serves it.\n"
      "if (!localStorage.getItem(\"server_url\")) {\n"
      "  localStorage.setItem(\"server_url\", location.origin);\n"
      "  localStorage.setItem(\"namespace\", " +
          boost::json::serialize(boost::json::value(opts.nsp)) +
          ");\n"
          "}\n"};
  (*files)["/admin-ui/"] = index;
  io.route("GET", "/admin-ui", [](const sio::http::request&, sio::http::reply_ptr r) {
    // Relative references resolve against /admin-ui/ only with the slash.
    sio::http::response moved;
    moved.status = 301;
    moved.headers.emplace_back("Location", "/admin-ui/");
    r->send(std::move(moved));
  });
  io.route("GET", "/admin-ui/*", [files](const sio::http::request& req, sio::http::reply_ptr r) {
    auto it = files->find(req.path);
    if (it == files->end())
      return r->send(sio::http::response::text(404, "not found"));
    r->send(sio::http::response::text(200, it->second.second, it->second.first));
  });
}

} // namespace chat
