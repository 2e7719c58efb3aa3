#include "transport/http/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <stdexcept>

namespace sio::http {

namespace ssl = boost::asio::ssl;

namespace {

std::string openssl_reason() {
  auto code = ERR_get_error();
  ERR_clear_error();
  if (code == 0)
    return "unknown error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

} // namespace

std::shared_ptr<ssl::context> tls_context::load(const std::string& cert_file, const std::string& key_file) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  // TLS 1.2 and 1.3 only; OpenSSL's default ciphers for them.
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3
                   | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  auto* native = ctx->native_handle();
  // Fewer bytes held per idle connection: OpenSSL frees its read/write buffers when empty.
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  // An encrypted key fails at once instead of OpenSSL prompting on a terminal (which
  // would hang the I/O thread doing a SIGHUP reload).
  SSL_CTX_set_default_passwd_cb(native, [](char*, int, int, void*) { return 0; });
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(native, cert_file.c_str()) != 1)
    throw std::runtime_error("tls-cert " + cert_file + ": " + openssl_reason());
  if (SSL_CTX_use_PrivateKey_file(native, key_file.c_str(), SSL_FILETYPE_PEM) != 1)
    throw std::runtime_error("tls-key " + key_file + ": " + openssl_reason());
  if (SSL_CTX_check_private_key(native) != 1)
    throw std::runtime_error("tls-key " + key_file + " does not match tls-cert " + cert_file + ": " + openssl_reason());
  return ctx;
}

tls_context::tls_context(std::string cert_file, std::string key_file)
    : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)), current_(load(cert_file_, key_file_)) {}

std::shared_ptr<ssl::context> tls_context::current() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return current_;
}

void tls_context::reload() {
  auto fresh = load(cert_file_, key_file_);
  std::lock_guard<std::mutex> guard(mutex_);
  current_ = std::move(fresh);
}

} // namespace sio::http
