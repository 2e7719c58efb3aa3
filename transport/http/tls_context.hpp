// The certificate and key the listening port serves HTTPS and WSS with, reloadable
// (SIGHUP): a reload builds a new OpenSSL context and swaps it in for new connections;
// open connections keep the one they started with. Internal to transport/http.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <mutex>
#include <string>

namespace sio::http {

class tls_context {
public:
  /// Loads the PEM certificate chain and private key; throws std::runtime_error saying
  /// which file and why (unreadable, not PEM, key not matching the certificate).
  tls_context(std::string cert_file, std::string key_file);

  /// The context new connections use.
  std::shared_ptr<boost::asio::ssl::context> current() const;

  /// Loads the files again; on failure throws and keeps the current context.
  void reload();

  /// A context from the two files (the check --check-config makes too).
  static std::shared_ptr<boost::asio::ssl::context> load(const std::string& cert_file, const std::string& key_file);

private:
  const std::string cert_file_, key_file_;
  mutable std::mutex mutex_;
  std::shared_ptr<boost::asio::ssl::context> current_;
};

} // namespace sio::http
